// The health gate on the real Pulumi engine: before the VirtualService gives a color more traffic,
// `pulumi up` asks a real Prometheus (Debian's 2.42, scraping e2e/istio-exporter.ts every second;
// see e2e/telemetry.ts) for that color's request count, success rate and p99 latency, and refuses,
// warns or lets it through. Proven with the VirtualService's and Deployments' resourceVersions, a
// watch on the VirtualService, and the time of every query the gate sent.
//
// Each scenario has a stack (and namespace) of its own, because the gate reads a window of at least
// 2 minutes: one color's data cannot go from failing to healthy faster than that.
//   refuse: no data with healthGateRequireData; a 5xx green (preview and up refused); warn lets it
//           through; a switch to a changed color without data under the defaults passes with a warning
//   slow:   a slow green refused; the query path failing refuses; healthGate off sends no query
//   pass:   a healthy green switches; a changed blue without data is not a rollback (refused with
//           healthGateRequireData); the unchanged blue is, and goes through with no data
// Run through `npm run e2e` (e2e/run.sh), or `bash e2e/run.sh e2e/health-gate.ts`.
import { spawnSync } from "node:child_process";
import { HealthQueryTarget, latencyQuantileQuery, requestCountQuery, successRateQuery } from "../components/health-queries";
import { E2eRun, Watch, WatchEvent, catchAll, revision } from "./harness";
import type { RecordedQuery, TrafficProfile } from "./istio-exporter";
import { Telemetry } from "./telemetry";

const APP = "nginx";
/** The gate's default window (healthGateWindow): the script waits for data, never for the window to pass. */
const WINDOW = "5m";
/** The gate's default minimum number of requests in the window. */
const MIN_REQUESTS = 20;
const HEALTHY: TrafficProfile = { rps: 10, errorShare: 0, latencyMs: 20 };
const FAILING_5XX: TrafficProfile = { rps: 10, errorShare: 0.5, latencyMs: 20 };
const SLOW: TrafficProfile = { rps: 10, errorShare: 0, latencyMs: 3000 };

const run = new E2eRun("bluegreen-e2e-gate-");
const { env, timings } = run;
const check = run.check.bind(run);
const kubectl = run.kubectlJson.bind(run);

type Color = "blue" | "green";

/** One stack of the project, deployed into a namespace of its own. */
class GateStack {
    constructor(readonly name: string, readonly namespace: string) {}

    cli(args: string[], allowFailure = false) {
        return run.pulumi([...args, "--stack", this.name], allowFailure);
    }

    /** Sets plain stack settings (one `pulumi config set-all`). */
    config(values: Record<string, string>): void {
        this.cli(["config", "set-all", ...Object.entries(values).flatMap(([k, v]) => ["--plaintext", `${k}=${v}`])]);
    }

    unset(...keys: string[]): void {
        for (const key of keys) this.cli(["config", "rm", key]);
    }

    target(color: Color): HealthQueryTarget {
        return { namespace: this.namespace, app: APP, color, window: WINDOW };
    }

    /** The VirtualService and both Deployments as the API server has them now. */
    state() {
        const vs = kubectl("-n", this.namespace, "get", "virtualservice.networking.istio.io", APP);
        const deployment = (color: Color) => {
            const d = kubectl("-n", this.namespace, "get", "deployment", `${APP}-${color}`);
            return { resourceVersion: d?.metadata?.resourceVersion, generation: d?.metadata?.generation, image: d?.spec?.template?.spec?.containers?.[0]?.image };
        };
        return {
            vs: { resourceVersion: vs?.metadata?.resourceVersion as string | undefined, route: catchAll(vs), annotations: JSON.stringify(vs?.metadata?.annotations ?? {}) },
            blue: deployment("blue"),
            green: deployment("green"),
        };
    }

    /**
     * `pulumi up` (or `preview`) with a watch on the VirtualService: its result, every VirtualService
     * version written meanwhile, and the gate's queries that arrived meanwhile.
     */
    async gated(step: string, telemetry: Telemetry, command: "up" | "preview", expectFailure: boolean) {
        const routes = new Watch(env, this.namespace, "virtualservices.networking.istio.io");
        await new Promise((r) => setTimeout(r, 1500)); // the watch has listed the current state
        const before = (await telemetry.queries()).length;
        const since = Date.now();
        const args = command === "up" ? ["up", "--yes", "--skip-preview"] : ["preview"];
        const result = await run.pulumiAsync([...args, "--stack", this.name], true);
        const until = Date.now();
        timings.push([`${this.name}: ${step}`, result.ms]);
        const writes = (await routes.stop()).filter((e) => e.at >= since);
        const queries = (await telemetry.queries()).slice(before);
        const output = `${result.stdout}\n${result.stderr}`;
        // What the user reads: the first line of each of the gate's messages.
        for (const line of new Set(output.split("\n").map((l) => l.trim()).filter((l) => /^(error|warning): .*health gate \(/.test(l)))) console.log(`       | ${line}`);
        if ((result.code === 0) === expectFailure) {
            check(`${this.name}: ${step}: pulumi ${command} ${expectFailure ? "fails" : "succeeds"}`, false, `exit ${result.code}\n${output.slice(-4000)}`);
        }
        return { code: result.code, output, since, until, writes, queries };
    }
}

/** Queries about one color's workload (its name inside a label matcher). */
const queriesFor = (queries: RecordedQuery[], stack: GateStack, color: Color) =>
    queries.filter((q) => q.query.includes(`destination_workload="${APP}-${color}"`) && q.query.includes(`"${stack.namespace}"`));

const at = (ms: number, since: number) => `+${((ms - since) / 1000).toFixed(1)} s`;

/** The first VirtualService version whose catch-all sends everything to `color`. */
const routedTo = (events: WatchEvent[], color: Color) => events.find((e) => catchAll(e.object) === `${color}:100`);

/** Waits until Prometheus has, over the gate's window, what the gate is about to judge. */
async function waitForData(telemetry: Telemetry, stack: GateStack, color: Color, what: "failing 5xx" | "slow" | "healthy"): Promise<void> {
    const target = stack.target(color);
    const start = Date.now();
    await telemetry.waitForValue(requestCountQuery(target), (n) => n >= 2 * MIN_REQUESTS);
    const success = await telemetry.waitForValue(successRateQuery(target), what === "failing 5xx" ? (v) => v < 0.9 : (v) => v === 1);
    const p99 = await telemetry.waitForValue(latencyQuantileQuery(target, 0.99), what === "slow" ? (v) => v > 2000 : (v) => v < 100);
    console.log(`       ${stack.namespace}/${APP}-${color} ${what} in Prometheus after ${((Date.now() - start) / 1000).toFixed(1)} s: success rate ${success}, p99 ${p99} ms`);
}

/** The checks every refused switch must pass: the message, and nothing written to the cluster. */
function refusedAndUntouched(stack: GateStack, step: string, color: Color, kept: Color, before: ReturnType<GateStack["state"]>,
    up: Awaited<ReturnType<GateStack["gated"]>>, message: RegExp[]): void {
    const after = stack.state();
    for (const m of message) check(`${stack.name}: ${step}: the refusal says ${m}`, m.test(up.output), up.output.slice(-3000));
    check(`${stack.name}: ${step}: the VirtualService was not written (resourceVersion ${before.vs.resourceVersion} -> ${after.vs.resourceVersion}, no watch event), ${kept} still routed`,
        after.vs.resourceVersion === before.vs.resourceVersion && up.writes.length === 0 && after.vs.route === `${kept}:100` && after.vs.annotations === before.vs.annotations,
        `${JSON.stringify(before.vs)} -> ${JSON.stringify(after.vs)}; ${up.writes.length} writes`);
    check(`${stack.name}: ${step}: ${kept}'s Deployment untouched (resourceVersion ${before[kept].resourceVersion}, generation ${before[kept].generation})`,
        JSON.stringify(after[kept]) === JSON.stringify(before[kept]), `${JSON.stringify(before[kept])} -> ${JSON.stringify(after[kept])}`);
    const asked = queriesFor(up.queries, stack, color);
    console.log(`       gate's queries for ${APP}-${color}: ${asked.map((q) => `${at(q.at, up.since)} (${q.status})`).join(", ") || "none"}; pulumi exited at ${at(up.until, up.since)}`);
}

/** The checks of a switch that went through: the route moved, after the gate had asked about the color. */
function switchedAfterQueries(stack: GateStack, step: string, color: Color, before: ReturnType<GateStack["state"]>, up: Awaited<ReturnType<GateStack["gated"]>>): void {
    const after = stack.state();
    const routed = routedTo(up.writes, color);
    const asked = queriesFor(up.queries, stack, color);
    const lastAsked = Math.max(...asked.map((q) => q.at));
    console.log(`       gate's queries for ${APP}-${color}: ${asked.map((q) => `${at(q.at, up.since)} (${q.status})`).join(", ") || "none"}; ` +
        `VirtualService -> ${color} seen at ${routed ? `${at(routed.at, up.since)} (rev ${revision(routed)})` : "never"}`);
    check(`${stack.name}: ${step}: the VirtualService routes ${color} (resourceVersion ${before.vs.resourceVersion} -> ${after.vs.resourceVersion})`,
        after.vs.route === `${color}:100` && after.vs.resourceVersion !== before.vs.resourceVersion, JSON.stringify(after.vs));
    check(`${stack.name}: ${step}: the gate asked Prometheus about ${APP}-${color} before the route moved`,
        asked.length > 0 && !!routed && lastAsked <= routed.at, `${asked.length} queries, last ${lastAsked}, route at ${routed?.at}`);
}

async function main(): Promise<void> {
    const kubeconfig = process.env.KUBECONFIG;
    if (!kubeconfig) throw new Error("KUBECONFIG is not set: run through `npm run e2e`, or export the kubeconfig of a cluster with Istio's CRDs");
    console.log(`project ${run.project}, ${spawnSync("pulumi", ["version"], { encoding: "utf8" }).stdout.trim()}`);
    const telemetry = await run.timedAsync("start the exporter and Prometheus (1 s scrapes)", () => Telemetry.start());
    try {
        console.log(`Prometheus ${telemetry.prometheusUrl}, gate queries through ${telemetry.queryUrl}`);
        const stacks = { refuse: new GateStack("refuse", "gate-refuse"), slow: new GateStack("slow", "gate-slow"), pass: new GateStack("pass", "gate-pass") };
        for (const stack of Object.values(stacks)) {
            run.pulumi(["stack", "init", stack.name]);
            stack.config({ kubeconfig, installIstio: "false", namespace: stack.namespace, activeColor: "blue", healthGateQueryUrl: telemetry.queryUrl });
        }

        // 0. Three fresh stacks, blue serving, no data for any color: a new VirtualService needs none.
        const created = await Promise.all(Object.values(stacks).map((s) => s.gated("pulumi up from nothing (no data at all)", telemetry, "up", false)));
        Object.values(stacks).forEach((stack, i) => {
            check(`${stack.name}: the first pulumi up creates the VirtualService routing blue without any data, and without a gate warning`,
                created[i].code === 0 && stack.state().vs.route === "blue:100" && !/health gate \(/.test(created[i].output), created[i].output.slice(-2000));
            check(`${stack.name}: ...although the gate ran before the create: it asked Prometheus about ${APP}-blue`,
                queriesFor(created[i].queries, stack, "blue").length > 0, JSON.stringify(created[i].queries));
        });

        await refuseScenario(stacks.refuse, telemetry);
        await slowScenario(stacks.slow, telemetry);
        await passScenario(stacks.pass, telemetry);

        await run.timedAsync("destroy the three stacks", () => Promise.all(Object.values(stacks).map((s) => run.pulumiAsync(["destroy", "--yes", "--skip-preview", "--stack", s.name]))));
    } finally {
        await telemetry.stop();
    }
}

/** No data with healthGateRequireData; a 5xx green in preview and up; warn; no data by default. */
async function refuseScenario(stack: GateStack, telemetry: Telemetry): Promise<void> {
    // 1. Green has no series at all; production-grade strictness refuses.
    stack.config({ activeColor: "green", healthGateRequireData: "true" });
    let before = stack.state();
    let up = await stack.gated("1. switch to green without data, healthGateRequireData=true", telemetry, "up", true);
    refusedAndUntouched(stack, "1. no data, healthGateRequireData", "green", "blue", before, up,
        [/refused to give green more traffic: not enough data for green/, /mirrorToIdle/, /targetedRoutes/, /x-version: green/]);
    stack.unset("healthGateRequireData");

    // 2. Green answers half its requests with 503.
    await telemetry.setTraffic({ namespace: stack.namespace, app: APP, color: "green" }, FAILING_5XX);
    await waitForData(telemetry, stack, "green", "failing 5xx");
    before = stack.state();
    const preview = await stack.gated("2a. pulumi preview of the switch to a 5xx green", telemetry, "preview", true);
    check(`${stack.name}: 2a. the preview shows the gate's verdict with the measured success rate`,
        /\[preview: the update will decide the same way\]/.test(preview.output) && /refused to give green more traffic/.test(preview.output) &&
        /success rate: 50% \(bound: at least 99%\) — OUT OF BOUNDS/.test(preview.output), preview.output.slice(-3000));
    check(`${stack.name}: 2a. the preview queried Prometheus about green`, queriesFor(preview.queries, stack, "green").length > 0);
    up = await stack.gated("2b. switch to a 5xx green", telemetry, "up", true);
    refusedAndUntouched(stack, "2b. 5xx green", "green", "blue", before, up,
        [/health gate \(enforce\): refused to give green more traffic: green is out of bounds on success rate/,
            /success rate: 50% \(bound: at least 99%\) — OUT OF BOUNDS/, /over the last 5m/, /Nothing was changed/]);

    // 3. warn: the same green goes through, with the verdict as a warning.
    stack.config({ healthGate: "warn" });
    before = stack.state();
    up = await stack.gated("3. switch to the 5xx green with healthGate=warn", telemetry, "up", false);
    check(`${stack.name}: 3. warn: pulumi up warns with the verdict`,
        /health gate \(warn\): green gets more traffic although green is out of bounds on success rate/.test(up.output), up.output.slice(-3000));
    switchedAfterQueries(stack, "3. warn", "green", before, up);
    stack.unset("healthGate");

    // 4. Blue served until step 3, but its pod template changes now: not a rollback. It has no data,
    // and by default no data lets a switch through with a warning.
    stack.config({ blueImage: "nginx:1.27.4", activeColor: "blue" });
    before = stack.state();
    up = await stack.gated("4. switch to a changed blue without data (defaults)", telemetry, "up", false);
    check(`${stack.name}: 4. no data by default: pulumi up warns and says how to make it strict`,
        /health gate \(enforce\): blue gets more traffic although not enough data for blue/.test(up.output) &&
        /healthGateRequireData true refuses it instead/.test(up.output) && !/Rollback:/.test(up.output), up.output.slice(-3000));
    switchedAfterQueries(stack, "4. no data by default", "blue", before, up);
}

/** A slow green; the query path failing; the gate off. */
async function slowScenario(stack: GateStack, telemetry: Telemetry): Promise<void> {
    await telemetry.setTraffic({ namespace: stack.namespace, app: APP, color: "green" }, SLOW);
    await waitForData(telemetry, stack, "green", "slow");
    stack.config({ activeColor: "green" });
    let before = stack.state();
    let up = await stack.gated("1. switch to a slow green", telemetry, "up", true);
    refusedAndUntouched(stack, "1. slow green", "green", "blue", before, up,
        [/refused to give green more traffic: green is out of bounds on p99 latency/, /p99 latency: 4975 ms \(bound: at most 1000 ms\) — OUT OF BOUNDS/,
            /success rate: 100% \(bound: at least 99%\) — ok/]);

    // 2. Prometheus unreachable (the proxy answers 503): enforce refuses what it cannot measure.
    await telemetry.setFault("error");
    before = stack.state();
    up = await stack.gated("2. switch to green while the query endpoint fails", telemetry, "up", true);
    await telemetry.setFault("none");
    refusedAndUntouched(stack, "2. query endpoint failing", "green", "blue", before, up,
        [/refused to give green more traffic: green could not be measured/, /query failed/, /make the query endpoint answer/]);

    // 3. off: no query, the switch goes through (a query URL with the gate off is refused as a setting).
    stack.config({ healthGate: "off" });
    stack.unset("healthGateQueryUrl");
    before = stack.state();
    up = await stack.gated("3. switch to the slow green with healthGate=off", telemetry, "up", false);
    const after = stack.state();
    check(`${stack.name}: 3. off: the switch goes through without a single query`,
        up.queries.length === 0 && after.vs.route === "green:100" && after.vs.resourceVersion !== before.vs.resourceVersion,
        `${up.queries.length} queries; ${JSON.stringify(after.vs)}`);
}

/** A healthy green switches; a rollback to the blue that served goes through without data, a changed blue does not. */
async function passScenario(stack: GateStack, telemetry: Telemetry): Promise<void> {
    await telemetry.setTraffic({ namespace: stack.namespace, app: APP, color: "green" }, HEALTHY);
    await waitForData(telemetry, stack, "green", "healthy");
    stack.config({ activeColor: "green", healthGateRequireData: "true" });
    let before = stack.state();
    let up = await stack.gated("1. switch to a healthy green (healthGateRequireData=true)", telemetry, "up", false);
    check(`${stack.name}: 1. a healthy green passes without a warning`, !/health gate \(/.test(up.output), up.output.slice(-3000));
    switchedAfterQueries(stack, "1. healthy green", "green", before, up);

    // 2. Blue served until step 1 but gets a new image in the same update: without data that is no
    // rollback, and healthGateRequireData refuses it. (Blue's Deployment rolls out first: make
    // before break; the route stays on green.)
    stack.config({ blueImage: "nginx:1.27.4", activeColor: "blue" });
    before = stack.state();
    up = await stack.gated("2. switch to a changed blue without data", telemetry, "up", true);
    refusedAndUntouched(stack, "2. changed blue, no data", "blue", "green", before, up,
        [/refused to give blue more traffic: not enough data for blue/]);
    const blueAfter = stack.state().blue;
    check(`${stack.name}: 2. the documented limit: blue's Deployment took the new image before the gate refused the route (generation ${before.blue.generation} -> ${blueAfter.generation})`,
        blueAfter.image === "nginx:1.27.4" && blueAfter.generation !== before.blue.generation, JSON.stringify(blueAfter));

    // 3. Blue's template back to what served: a rollback, through without data despite healthGateRequireData.
    stack.unset("blueImage");
    before = stack.state();
    up = await stack.gated("3. rollback to the blue that served until step 1", telemetry, "up", false);
    check(`${stack.name}: 3. the rollback says why no data is needed`,
        /Rollback: blue served until the last switch with the same pod template/.test(up.output), up.output.slice(-3000));
    switchedAfterQueries(stack, "3. rollback", "blue", before, up);
}

run.finish(main(), "health gate e2e");
