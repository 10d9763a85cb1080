// npm run bench: how long the program takes to evaluate under the mock engine, and what the
// package's own logic costs on top of the Pulumi SDK. Prints figures; asserts nothing.
import * as os from "node:os";
import { performance } from "node:perf_hooks";
import type * as k8sModule from "@pulumi/kubernetes";
import type { BlueGreenServiceArgs } from "../components/blue-green-service";
import { evaluate, useMocks } from "./engine";
import { loadStackConfig } from "./stack-files";

const SIZES = [1, 10, 100, 300];

function median(values: number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Wall time of one evaluation, after a full GC when node runs with --expose-gc. */
async function timeOnce(program: () => unknown, config: Record<string, string> = {}): Promise<number> {
    (globalThis as { gc?: () => void }).gc?.();
    const start = performance.now();
    const ev = await evaluate(program, config);
    const elapsed = performance.now() - start;
    if (ev.error) throw ev.error;
    return elapsed;
}

/**
 * Median times of `runs` evaluations of each program, after one warm-up each. The programs run
 * interleaved, so drift in machine load (a shared 2-core machine) hits both alike.
 */
async function timeInterleaved(programs: (() => unknown)[], runs: number, config: Record<string, string> = {}): Promise<number[]> {
    const samples: number[][] = programs.map(() => []);
    for (let i = 0; i <= runs; i++) {
        for (const [p, program] of programs.entries()) {
            const elapsed = await timeOnce(program, config);
            if (i > 0) samples[p].push(elapsed);
        }
    }
    return samples.map(median);
}

function serviceArgs(i: number): BlueGreenServiceArgs {
    return { activeColor: i % 2 ? "green" : "blue", namespace: `bench-${i}`, hosts: [`app${i}.example.com`] };
}

async function main(): Promise<void> {
    await useMocks("dev");
    const k8s: typeof k8sModule = await import("@pulumi/kubernetes");
    const { BlueGreenService } = await import("../components/blue-green-service");
    const program = (await import("../index")).default;

    // Small programs take milliseconds, so they get more runs for a stable median.
    const runs = (size: number) => (size >= 300 ? 3 : size >= 100 ? 5 : size >= 10 ? 15 : 31);
    const [dev] = await timeInterleaved([program], 9, loadStackConfig("dev"));

    // Ours: N BlueGreenService components, with their validation and builders.
    const ours = (n: number) => () => {
        const provider = new k8s.Provider("k8s", {});
        for (let i = 0; i < n; i++) new BlueGreenService(`svc-${i}`, serviceArgs(i), { providers: [provider] });
    };

    // The floor: the very Kubernetes objects ours declares (recorded from one evaluation, before the
    // clock starts), registered directly with @pulumi/kubernetes: no components, no validation,
    // no builders.
    const floor = async (n: number) => {
        const recorded = (await evaluate(ours(n))).resources.filter((r) => r.custom && r.type.startsWith("kubernetes:") && r.inputs.kind);
        return () => {
            const provider = new k8s.Provider("k8s", {});
            const namespaces = new Map<string, k8sModule.core.v1.Namespace>();
            for (const r of recorded) {
                if (r.inputs.kind === "Namespace") namespaces.set(r.inputs.metadata.name, new k8s.core.v1.Namespace(r.name, r.inputs, { provider }));
            }
            for (const r of recorded) {
                const opts = { provider, dependsOn: [namespaces.get(r.inputs.metadata.namespace)!] };
                switch (r.inputs.kind) {
                    case "Namespace": break;
                    case "Deployment": new k8s.apps.v1.Deployment(r.name, r.inputs as k8sModule.apps.v1.DeploymentArgs, opts); break;
                    case "PodDisruptionBudget": new k8s.policy.v1.PodDisruptionBudget(r.name, r.inputs, opts); break;
                    case "Service": new k8s.core.v1.Service(r.name, r.inputs, opts); break;
                    default: new k8s.apiextensions.CustomResource(r.name, r.inputs as any, opts);
                }
            }
        };
    };

    const cpu = os.cpus()[0]?.model ?? "unknown CPU";
    console.log(`Machine: ${os.cpus().length} x ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()}`);
    console.log(`dev stack (cluster + mesh + workload, ${(await evaluate(program, loadStackConfig("dev"))).resources.length} resources): ${dev.toFixed(1)} ms (median of 9)\n`);
    console.log("services | ours ms | ours ms/service | floor ms | floor ms/service | ours/floor | runs");
    console.log("-------- | ------- | --------------- | -------- | ---------------- | ---------- | ----");
    for (const n of SIZES) {
        const [oursMs, floorMs] = await timeInterleaved([ours(n), await floor(n)], runs(n));
        console.log([
            String(n).padStart(8),
            oursMs.toFixed(1).padStart(7),
            (oursMs / n).toFixed(2).padStart(15),
            floorMs.toFixed(1).padStart(8),
            (floorMs / n).toFixed(2).padStart(16),
            (oursMs / floorMs).toFixed(2).padStart(10),
            String(runs(n)).padStart(4),
        ].join(" | "));
    }
}

main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
});
