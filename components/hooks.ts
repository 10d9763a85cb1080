import * as pulumi from "@pulumi/pulumi";

/**
 * Whether the resource monitor this program talks to has an RPC (`registerErrorHook`,
 * `registerResourceHook`). The engine's always does (its client has every RPC); the SDK's mock
 * monitor (`pulumi.runtime.setMocks`, 3.248) lacks both, so constructing a hook there rejects and
 * ends the program, while the hook could never run. Hooks are bound only where this is true.
 */
export function monitorSupports(rpc: "registerErrorHook" | "registerResourceHook"): boolean {
    return typeof (pulumi.runtime.getMonitor() as Record<string, unknown> | undefined)?.[rpc] === "function";
}
