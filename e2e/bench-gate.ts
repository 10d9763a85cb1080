// npm run bench:e2e, second part: what the health gate adds to a switch on the real engine.
// Two stacks of one project, identical but for the gate: `gated` (healthGate enforce, querying a
// local Prometheus 2.42 that scrapes e2e/istio-exporter.ts every second, both colors healthy) and
// `ungated` (healthGate off). Each run times, on each stack, the preview of a switch and the switch
// itself, both ways (blue -> green, green -> blue), interleaved so drift in machine load hits both
// alike; prints the medians and `gate ratios: preview=<gated/ungated> switch=<gated/ungated>`.
// Target: switch at most 1.3x. A script that prints figures; it fails only when a command does not
// do what it should (a switch refused, a query that did not happen).
import * as os from "node:os";
import { spawnSync } from "node:child_process";
import { requestCountQuery } from "../components/health-queries";
import { E2eRun, catchAll, median } from "./harness";
import { Telemetry } from "./telemetry";

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const APP = "nginx";
const HEALTHY = { rps: 10, errorShare: 0, latencyMs: 20 };
const COMMANDS = ["preview", "switch"] as const;
type Command = (typeof COMMANDS)[number];
const LABELS: Record<Command, string> = {
    preview: "pulumi preview of a switch",
    switch: "pulumi up --skip-preview (the switch)",
};

const run = new E2eRun("bluegreen-bench-gate-");

async function main(): Promise<void> {
    const kubeconfig = process.env.KUBECONFIG;
    if (!kubeconfig) throw new Error("KUBECONFIG is not set: run through `npm run bench:e2e` (e2e/run.sh), or export the kubeconfig of a cluster with Istio's CRDs");
    const telemetry = await Telemetry.start();
    const stacks = ["gated", "ungated"] as const;
    const namespace = (stack: string) => `bench-${stack}`;
    const cli = (stack: string, args: string[]) => run.pulumi([...args, "--stack", stack]);
    try {
        for (const stack of stacks) {
            run.pulumi(["stack", "init", stack]);
            // The gated stack asks Prometheus itself, not the e2e's recording proxy: no extra hop in the
            // measurement. With the gate off a query URL is refused as a setting.
            const gate = stack === "gated" ? [`healthGate=enforce`, `healthGateQueryUrl=${telemetry.prometheusUrl}/api/v1/query`] : ["healthGate=off"];
            cli(stack, ["config", "set-all", ...[`kubeconfig=${kubeconfig}`, "installIstio=false", `namespace=${namespace(stack)}`, "activeColor=blue", ...gate]
                .flatMap((kv) => ["--plaintext", kv])]);
            for (const color of ["blue", "green"] as const) await telemetry.setTraffic({ namespace: namespace(stack), app: APP, color }, HEALTHY);
            cli(stack, ["up", "--yes", "--skip-preview"]);
        }
        // Both colors of the gated stack hold enough healthy requests for the gate to pass on measurements.
        for (const color of ["blue", "green"] as const) {
            await telemetry.waitForValue(requestCountQuery({ namespace: namespace("gated"), app: APP, color, window: "5m" }), (n) => n >= 40);
        }

        console.log(`${os.cpus().length} x ${os.cpus()[0]?.model ?? "unknown CPU"}, Node ${process.version}, ${spawnSync("pulumi", ["version"], { encoding: "utf8" }).stdout.trim()}`);
        console.log(`${RUNS} runs, gated and ungated interleaved; each run, per stack: preview + switch to green, preview + switch back to blue\n`);
        const samples: Record<(typeof stacks)[number], Record<Command, number[]>> = {
            gated: { preview: [], switch: [] },
            ungated: { preview: [], switch: [] },
        };
        // Instant queries Prometheus has answered, from its own /metrics (not a query, so not counted).
        const queriesServed = async () => {
            const text = await (await fetch(`${telemetry.prometheusUrl}/metrics`)).text();
            return [...text.matchAll(/^prometheus_http_requests_total\{[^}]*handler="\/api\/v1\/query"[^}]*\} (\S+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
        };
        for (let i = 1; i <= RUNS; i++) {
            for (const stack of stacks) {
                const line: string[] = [];
                for (const color of ["green", "blue"] as const) {
                    cli(stack, ["config", "set", "activeColor", color]);
                    const queriesBefore = await queriesServed();
                    const preview = cli(stack, ["preview"]);
                    const up = cli(stack, ["up", "--yes", "--skip-preview"]);
                    const queried = (await queriesServed()) - queriesBefore;
                    const route = catchAll(run.kubectlJson("-n", namespace(stack), "get", "virtualservice.networking.istio.io", APP));
                    if (route !== `${color}:100`) throw new Error(`${stack}: the switch to ${color} did not move the route (${route}):\n${up.stdout}`);
                    if ((stack === "gated") !== (queried > 0)) throw new Error(`${stack}: ${queried} queries reached Prometheus during the switch to ${color}`);
                    samples[stack].preview.push(preview.ms);
                    samples[stack].switch.push(up.ms);
                    line.push(`-> ${color}: preview ${(preview.ms / 1000).toFixed(1)} s, switch ${(up.ms / 1000).toFixed(1)} s (${queried} queries)`);
                }
                console.log(`run ${i} ${stack.padEnd(7)} ${line.join("; ")}`);
            }
        }

        const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
        console.log(`\n| command (median of ${2 * RUNS}) | gated | ungated | gated/ungated |`);
        console.log("|---|---|---|---|");
        for (const c of COMMANDS) {
            console.log(`| ${LABELS[c]} | ${s(median(samples.gated[c]))} | ${s(median(samples.ungated[c]))} | ${(median(samples.gated[c]) / median(samples.ungated[c])).toFixed(2)} |`);
        }
        const ratio = (c: Command) => (median(samples.gated[c]) / median(samples.ungated[c])).toFixed(2);
        console.log(`\ngate ratios: preview=${ratio("preview")} switch=${ratio("switch")} (target: switch <= 1.30)`);
    } finally {
        for (const stack of stacks) run.pulumi(["destroy", "--yes", "--skip-preview", "--stack", stack], true);
        await telemetry.stop();
    }
}

run.finish(main(), "gate benchmark");
