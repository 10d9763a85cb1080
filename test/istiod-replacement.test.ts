// The one-step istioRevision change on a stack with one istiod renames its release through the
// alias, which the engine plans as a replacement. Created first (the default), the new istiod would
// come up and the old one, refused by the guard, would stay behind as a pending delete whose release
// name a revert cannot reinstall ("cannot re-use a name that is still in use": seen on the real
// engine, e2e/istio-upgrade.ts). Deleted first, the guard refuses before anything is created.
import * as assert from "node:assert/strict";
import { loadProgram } from "../offline/program";
import { loadStackConfig } from "../offline/stack-files";
import { evaluate, useMocks } from "./harness";

describe("istiod releases are replaced delete-first, so the guard refuses a one-step revision change before anything is created", () => {
    it("every istiod Release, and only those, deletes before it replaces", async () => {
        await useMocks();
        const program = await loadProgram();
        for (const config of [{ istioRevision: "canary" } as Record<string, string>, {
            istioControlPlanes: '["default=1.30.2","1-31-4=1.31.4"]', istioValidatorRevision: "default", ingressIstioRevision: "default",
        }]) {
            const ev = await evaluate(program, loadStackConfig("dev", config));
            assert.equal(ev.error, undefined, ev.error?.message);
            const releases = ev.resources.filter((r) => r.type === "kubernetes:helm.sh/v3:Release");
            const istiods = releases.filter((r) => r.inputs.chart === "istiod" || String(r.inputs.chart).endsWith("/istiod"));
            assert.ok(istiods.length >= 1);
            assert.deepEqual(istiods.map((r) => [r.name, r.deleteBeforeReplace]), istiods.map((r) => [r.name, true]));
            assert.deepEqual(releases.filter((r) => !istiods.includes(r)).filter((r) => r.deleteBeforeReplace).map((r) => r.name), []);
        }
    });
});
