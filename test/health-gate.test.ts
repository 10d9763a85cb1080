// The health gate as `pulumi up` runs it: the program (index.ts with the stack config) binds the hook
// to the VirtualService, and the hook, called the way the engine calls it (through the SDK's callback
// server, with the old and new inputs), asks a fake Prometheus on loopback and refuses or lets through.
import * as assert from "node:assert/strict";
import * as http from "node:http";
import { AddressInfo } from "node:net";
import { dottedPath, planChanges } from "../offline/diff";
import { loadProgram } from "../offline/program";
import { loadStackConfig } from "../offline/stack-files";
import { DEV_ON_EXISTING_CLUSTER, Resources, evaluate, invokeResourceHook, registeredResourceHook, useMocks } from "./harness";

const HOOK = "bluegreen-app-health-gate";

/** What the fake Prometheus answers for green's (and blue's) queries: a number, or no series. */
interface Answers { requests?: number; success?: number; p99?: number }

describe("health gate hook (program + engine-style calls + fake Prometheus)", function () {
    this.timeout(120_000);
    let program: () => unknown;
    let server: http.Server;
    let url: string;
    const answers: Record<string, Answers> = {};
    const asked: string[] = [];

    before(async () => {
        await useMocks();
        program = await loadProgram();
        server = http.createServer((req, res) => {
            const query = new URL(req.url!, "http://x").searchParams.get("query") ?? "";
            asked.push(query);
            const color = /destination_workload="nginx-(blue|green)"/.exec(query)?.[1] ?? "none";
            const a = answers[color] ?? {};
            const v = query.startsWith("histogram_quantile") ? a.p99 : query.includes("response_code!~") ? a.success : a.requests;
            res.writeHead(200, { "content-type": "application/json" });
            res.end(JSON.stringify({ status: "success", data: { resultType: "vector", result: v === undefined ? [] : [{ metric: {}, value: [1, String(v)] }] } }));
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/query`;
    });
    after(() => {
        server.closeAllConnections();
        server.close();
    });
    beforeEach(() => {
        asked.length = 0;
        for (const k of Object.keys(answers)) delete answers[k];
    });

    /** The VirtualService the program declares for the dev stack with `config` on top. */
    async function virtualService(config: Record<string, string>) {
        const ev = await evaluate(program, loadStackConfig("dev", { healthGateQueryUrl: url, ...config }));
        assert.equal(ev.error, undefined, String(ev.error));
        return new Resources(ev.resources).only("VirtualService");
    }
    /** Inputs after an update as the engine stores them: the program's, with the ignored paths kept from before. */
    function applied(old: Record<string, any>, next: { inputs: Record<string, any>; ignoreChanges: string[] }): Record<string, any> {
        const annotations = { ...next.inputs.metadata.annotations };
        for (const path of next.ignoreChanges) {
            const key = /^metadata\.annotations\["(.+)"\]$/.exec(path)![1];
            if (old.metadata.annotations[key] !== undefined) annotations[key] = old.metadata.annotations[key];
            else delete annotations[key];
        }
        return { ...next.inputs, metadata: { ...next.inputs.metadata, annotations } };
    }
    /** Switches blue -> green with `config` on both sides; returns the hook's error (undefined: it passed). */
    async function switchToGreen(config: Record<string, string> = {}) {
        const blue = await virtualService({ activeColor: "blue", ...config });
        const green = await virtualService({ activeColor: "green", ...config });
        return invokeResourceHook(HOOK, { oldInputs: blue.inputs, newInputs: green.inputs });
    }

    it("is bound before create and before update of the VirtualService, and runs in previews", async () => {
        const vs = await virtualService({});
        assert.deepEqual(vs.resourceHooks, { beforeCreate: [HOOK], beforeUpdate: [HOOK] });
        assert.deepEqual(registeredResourceHook(HOOK), { onDryRun: true });
        // On the dev stack (a cluster built here) without a URL the default is Managed Prometheus for gcp:project.
        const ev = await evaluate(program, loadStackConfig("dev", {}));
        const record = JSON.parse(new Resources(ev.resources).only("VirtualService").inputs.metadata.annotations["gke-istio-bluegreen.dev/health-gate"]);
        assert.equal(record.policy.queryUrl, "https://monitoring.googleapis.com/v1/projects/my-gcp-project-id/location/global/prometheus/api/v1/query");
    });

    it("is not bound when off, nor on an existing cluster without a query URL", async () => {
        assert.deepEqual((await virtualService({ healthGate: "off", healthGateQueryUrl: "" })).resourceHooks, { beforeCreate: [], beforeUpdate: [] });
        const ev = await evaluate(program, loadStackConfig("dev", { ...DEV_ON_EXISTING_CLUSTER }));
        assert.deepEqual(new Resources(ev.resources).only("VirtualService").resourceHooks, { beforeCreate: [], beforeUpdate: [] });
        const withUrl = await evaluate(program, loadStackConfig("dev", { ...DEV_ON_EXISTING_CLUSTER, healthGateQueryUrl: url }));
        assert.deepEqual(new Resources(withUrl.resources).only("VirtualService").resourceHooks.beforeUpdate, [HOOK]);
    });

    it("lets a healthy green through, having asked about green only", async () => {
        answers.green = { requests: 600, success: 0.999, p99: 80 };
        assert.equal(await switchToGreen(), undefined);
        assert.equal(asked.length, 3);
        assert.ok(asked.every((q) => q.includes(`destination_workload="nginx-green"`) && q.includes("[5m]")), asked.join("\n"));
    });

    it("refuses a failing green with the measured values, their bounds, the window and what to do", async () => {
        answers.green = { requests: 600, success: 0.9, p99: 2500 };
        const error = await switchToGreen();
        assert.match(error ?? "", /refused to give green more traffic/);
        assert.match(error ?? "", /success rate: 90% \(bound: at least 99%\) — OUT OF BOUNDS/);
        assert.match(error ?? "", /p99 latency: 2500 ms \(bound: at most 1000 ms\) — OUT OF BOUNDS/);
        assert.match(error ?? "", /over the last 5m/);
        assert.match(error ?? "", /blue keeps its traffic/);
        assert.match(error ?? "", /pulumi config set healthGate warn/);
    });

    it("takes its bounds and window from the stack settings", async () => {
        answers.green = { requests: 600, success: 0.9, p99: 2500 };
        assert.equal(await switchToGreen({ healthGateMinSuccessRate: "0.8", healthGateMaxP99Ms: "3000", healthGateWindow: "10m" }), undefined);
        assert.ok(asked.every((q) => q.includes("[10m]")));
        assert.equal(await switchToGreen({ healthGate: "warn" }), undefined, "warn lets it through");
        const custom = await switchToGreen({ healthGateChecks: JSON.stringify(["requests again: sum(increase(istio_requests_total{destination_workload=\"{{workload}}\"}[{{window}}])) >= 1000"]),
            healthGateMinSuccessRate: "0.8", healthGateMaxP99Ms: "3000" });
        assert.match(custom ?? "", /requests again: 600 \(bound: at least 1000\) — OUT OF BOUNDS/);
    });

    it("no data: through by default, refused with healthGateRequireData", async () => {
        assert.equal(await switchToGreen(), undefined);
        const strict = await switchToGreen({ healthGateRequireData: "true" });
        assert.match(strict ?? "", /refused to give green more traffic: not enough data for green in the last 5m/);
        assert.match(strict ?? "", /mirrorToIdle/);
    });

    it("an unanswered query fails closed in enforce and says so", async () => {
        const error = await switchToGreen({ healthGateQueryUrl: "http://127.0.0.1:9/api/v1/query", healthGateQueryTimeoutSeconds: "2" });
        assert.match(error ?? "", /green could not be measured/);
        assert.match(error ?? "", /query failed: cannot reach 127\.0\.0\.1:9/);
    });

    it("a rollback to the color that served until the last switch goes through without data; not once that color changed", async () => {
        const strict = { healthGateRequireData: "true" };
        const blue = await virtualService({ activeColor: "blue", ...strict });
        const green = await virtualService({ activeColor: "green", ...strict });
        // The state after the switch to green: the engine kept blue's record (ignoreChanges).
        const afterSwitch = applied(blue.inputs, green);
        assert.equal(afterSwitch.metadata.annotations["gke-istio-bluegreen.dev/served-template-blue"], blue.inputs.metadata.annotations["gke-istio-bluegreen.dev/served-template-blue"]);
        // Blue has had no traffic since: no data, and yet the rollback goes through.
        assert.equal(await invokeResourceHook(HOOK, { oldInputs: afterSwitch, newInputs: blue.inputs }), undefined);
        // A new blue image with the rollback: the pods never served, so no data refuses it.
        const changed = await virtualService({ activeColor: "blue", blueImage: "nginx:1.27.4", ...strict });
        const refused = await invokeResourceHook(HOOK, { oldInputs: afterSwitch, newInputs: changed.inputs });
        assert.match(refused ?? "", /refused to give blue more traffic: not enough data for blue/);
        // A rollback to pods failing now is refused too.
        answers.blue = { requests: 600, success: 0.5, p99: 10 };
        assert.match(await invokeResourceHook(HOOK, { oldInputs: afterSwitch, newInputs: blue.inputs }) ?? "", /success rate: 50%/);
    });

    it("changes that give no color more traffic ask nothing", async () => {
        const blue = await virtualService({ activeColor: "blue" });
        const mirrored = await virtualService({ activeColor: "blue", mirrorToIdle: "10", routeTimeout: "30s" });
        assert.equal(await invokeResourceHook(HOOK, { oldInputs: blue.inputs, newInputs: mirrored.inputs }), undefined);
        assert.deepEqual(asked, []);
    });

    it("a new VirtualService (a new stack) is created without data", async () => {
        const blue = await virtualService({ activeColor: "blue", healthGateRequireData: "true" });
        assert.equal(await invokeResourceHook(HOOK, { newInputs: blue.inputs }), undefined);
        answers.blue = { requests: 600, success: 0.2, p99: 10 };
        assert.match(await invokeResourceHook(HOOK, { newInputs: blue.inputs }) ?? "", /refused to give blue more traffic/, "but not onto failing pods");
    });

    it("a switch plans (npm run plan, PR plans) as the engine applies it: the idle color's kept record is no change", async () => {
        assert.equal(dottedPath('metadata.annotations["gke-istio-bluegreen.dev/served-template-blue"]'), "metadata.annotations.gke-istio-bluegreen.dev/served-template-blue");
        assert.equal(dottedPath("spec.http[0].name"), "spec.http[0].name");
        const blue = await evaluate(program, loadStackConfig("dev", { activeColor: "blue" }));
        const green = await evaluate(program, loadStackConfig("dev", { activeColor: "green" }));
        const plan = planChanges(blue.resources, green.resources);
        assert.deepEqual(plan.updates.map((u) => [u.resource.name, u.changes.map((c) => c.path)]), [["bluegreen-app-virtualservice", [
            "metadata.annotations.gke-istio-bluegreen.dev/served-template-green", "spec.http[2].route[0].destination.subset",
        ]]]);
    });
});
