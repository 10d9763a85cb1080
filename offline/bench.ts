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
    const { BlueGreenService, resolveBlueGreenServiceArgs } = await import("../components/blue-green-service");
    const { buildDeploymentSpec, buildServiceSpec, injectionLabels } = await import("../components/workload");
    const { buildDestinationRuleSpec, buildGatewaySpec, buildVirtualServiceSpec, COLORS, serviceFqdn } = await import("../components/routing");
    const program = (await import("../index")).default;

    const runs = (size: number) => (size >= 300 ? 3 : size >= 100 ? 5 : 9);
    const [dev] = await timeInterleaved([program], 9, loadStackConfig("dev"));

    // Ours: N BlueGreenService components, with their validation and builders.
    const ours = (n: number) => () => {
        const provider = new k8s.Provider("k8s", {});
        for (let i = 0; i < n; i++) new BlueGreenService(`svc-${i}`, serviceArgs(i), { providers: [provider] });
    };

    // The floor: the same Kubernetes objects registered directly with @pulumi/kubernetes, from
    // inputs built before the clock starts: no components, no validation, no builders.
    const floorInputs = (n: number) => [...Array(n).keys()].map((i) => {
        const a = resolveBlueGreenServiceArgs(serviceArgs(i));
        const host = serviceFqdn(a.appName, a.namespace);
        const meta = (name: string) => ({ name, namespace: a.namespace });
        return {
            namespace: { metadata: { name: a.namespace, labels: injectionLabels() } },
            deployments: COLORS.map((color) => ({ metadata: meta(`${a.appName}-${color}`), spec: buildDeploymentSpec({ app: a.appName, color, spec: a.colors[color], resources: a.resources }) })),
            service: { metadata: meta(a.appName), spec: buildServiceSpec(a.appName, a.servicePort) },
            istio: [
                ["Gateway", `${a.appName}-gateway`, buildGatewaySpec(a.gatewaySelector, a.hosts)],
                ["DestinationRule", a.appName, buildDestinationRuleSpec(host, a.loadBalancer)],
                ["VirtualService", a.appName, buildVirtualServiceSpec({ hosts: a.hosts, gateways: [`${a.namespace}/${a.appName}-gateway`], serviceHost: host, servicePort: a.servicePort, headerName: a.headerName, activeColor: a.activeColor })],
            ] as const,
        };
    });
    const floor = (n: number) => {
        const inputs = floorInputs(n);
        return () => {
            const provider = new k8s.Provider("k8s", {});
            inputs.forEach((x, i) => {
                const ns = new k8s.core.v1.Namespace(`ns-${i}`, x.namespace, { provider });
                x.deployments.forEach((d, j) => new k8s.apps.v1.Deployment(`d-${i}-${j}`, d, { provider, dependsOn: [ns] }));
                new k8s.core.v1.Service(`s-${i}`, x.service, { provider, dependsOn: [ns] });
                for (const [kind, name, spec] of x.istio) {
                    new k8s.apiextensions.CustomResource(`${kind}-${i}`, { apiVersion: "networking.istio.io/v1", kind, metadata: { name, namespace: x.namespace.metadata.name }, spec }, { provider, dependsOn: [ns] });
                }
            });
        };
    };

    const cpu = os.cpus()[0]?.model ?? "unknown CPU";
    console.log(`Machine: ${os.cpus().length} x ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()}`);
    console.log(`dev stack (cluster + mesh + workload, ${(await evaluate(program, loadStackConfig("dev"))).resources.length} resources): ${dev.toFixed(1)} ms (median of 9)\n`);
    console.log("services | ours ms | ours ms/service | floor ms | floor ms/service | ours/floor | runs");
    console.log("-------- | ------- | --------------- | -------- | ---------------- | ---------- | ----");
    for (const n of SIZES) {
        const [oursMs, floorMs] = await timeInterleaved([ours(n), floor(n)], runs(n));
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
