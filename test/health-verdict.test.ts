import * as assert from "node:assert/strict";
import {
    GateContext,
    HEALTH_GATE_DEFAULTS,
    HealthGatePolicy,
    MIN_GATE_WINDOW_SECONDS,
    MeasuredCheck,
    Measurement,
    checkHealthGatePolicy,
    dataSourceAdvice,
    gateChecks,
    gateVerdict,
    managedPrometheusQueryUrl,
    windowSeconds,
} from "../components/health-verdict";

const policy = (over: Partial<HealthGatePolicy> = {}): HealthGatePolicy => ({ ...HEALTH_GATE_DEFAULTS, checks: [], queryUrl: "http://127.0.0.1:9090/api/v1/query", ...over });
const context = (over: Partial<GateContext> = {}): GateContext => ({
    app: "nginx", namespace: "sample-ns", color: "green", gains: ["catch-all share: 0% -> 100%"], policy: policy(),
    rollback: { rollback: false, reason: "green has not served through this VirtualService before" }, creating: false, preview: false,
    dataSources: dataSourceAdvice("green", { headerName: "x-version", mirrorToIdle: 0, mirrorColor: "green", targetedRoutesToColor: [] }),
    keptColor: "blue", ...over,
});
const value = (v: number): Measurement => ({ kind: "value", value: v });
const EMPTY: Measurement = { kind: "empty" };
/** The three standard checks of the default policy with the given answers. */
function measured(requests: Measurement, success: Measurement, p99: Measurement, p = policy()): MeasuredCheck[] {
    const [a, b, c, ...rest] = gateChecks(p, { namespace: "sample-ns", app: "nginx", color: "green", window: p.window });
    return [{ ...a, result: requests }, { ...b, result: success }, { ...c, result: p99 }, ...rest.map((x) => ({ ...x, result: value(0) }))];
}

describe("health gate verdicts (pure)", () => {
    it("passes a healthy color silently", () => {
        const v = gateVerdict(context(), measured(value(500), value(0.999), value(120)));
        assert.equal(v.decision, "pass");
        assert.equal(v.message, "");
    });

    it("refuses a failing color in enforce, naming the color, each value against its bound, the window and what to do", () => {
        const v = gateVerdict(context(), measured(value(480), value(0.912), value(3120)));
        assert.equal(v.decision, "refuse");
        assert.match(v.message, /refused to give green more traffic: green is out of bounds on success rate, p99 latency/);
        assert.match(v.message, /green gains: catch-all share: 0% -> 100%/);
        assert.match(v.message, /workload nginx-green in namespace sample-ns over the last 5m/);
        assert.match(v.message, /requests: 480 \(bound: at least 20\) — ok/);
        assert.match(v.message, /success rate: 91\.2% \(bound: at least 99%\) — OUT OF BOUNDS/);
        assert.match(v.message, /p99 latency: 3120 ms \(bound: at most 1000 ms\) — OUT OF BOUNDS/);
        assert.match(v.message, /blue keeps its traffic/);
        assert.match(v.message, /fix green/);
        assert.match(v.message, /pulumi config set healthGate warn/);
    });

    it("warn lets a failing color through with the same facts", () => {
        const v = gateVerdict(context({ policy: policy({ mode: "warn" }) }), measured(value(480), value(0.5), value(10)));
        assert.equal(v.decision, "pass-with-warning");
        assert.match(v.message, /green gets more traffic although green is out of bounds on success rate/);
        assert.doesNotMatch(v.message, /Nothing was changed/);
    });

    it("no data passes with a warning by default, saying how to get data", () => {
        for (const checks of [measured(EMPTY, EMPTY, EMPTY), measured(value(3), value(Number.NaN), value(Number.NaN)), measured(value(3), value(0), value(9000))]) {
            const v = gateVerdict(context(), checks);
            assert.equal(v.decision, "pass-with-warning", "a few requests, even failing ones, are too few to judge");
            assert.match(v.summary, /not enough data for green in the last 5m/);
            assert.match(v.message, /mirrorToIdle/);
            assert.match(v.message, /targetedRoutes/);
            assert.match(v.message, /x-version: green/);
            assert.match(v.message, /healthGateRequireData true refuses it/);
        }
    });

    it("requireData refuses no data, except for a rollback or a new VirtualService", () => {
        const strict = policy({ requireData: true });
        assert.equal(gateVerdict(context({ policy: strict }), measured(EMPTY, EMPTY, EMPTY)).decision, "refuse");
        const back = gateVerdict(context({ policy: strict, rollback: { rollback: true, reason: "green served until the last switch with the same pod template (abc)" } }),
            measured(EMPTY, EMPTY, EMPTY));
        assert.equal(back.decision, "pass-with-warning");
        assert.match(back.message, /Rollback: green served until the last switch/);
        const fresh = gateVerdict(context({ policy: strict, creating: true }), measured(EMPTY, EMPTY, EMPTY));
        assert.deepEqual([fresh.decision, fresh.message], ["pass", ""], "a new stack has no traffic anywhere: nothing to say");
        assert.equal(gateVerdict(context({ creating: true }), measured(value(100), value(0.5), value(1))).decision, "refuse", "but a measured failure counts");
    });

    it("a rollback to a color measurably failing now is still refused", () => {
        const v = gateVerdict(context({ rollback: { rollback: true, reason: "r" } }), measured(value(100), value(0.2), value(10)));
        assert.equal(v.decision, "refuse");
    });

    it("a query without an answer fails closed in enforce, warns in warn, in a preview and for a rollback", () => {
        const error: Measurement = { kind: "error", message: "HTTP 403: permission denied" };
        const v = gateVerdict(context(), measured(error, value(1), value(1)));
        assert.equal(v.decision, "refuse");
        assert.match(v.message, /requests: query failed: HTTP 403: permission denied .* — UNKNOWN/);
        assert.match(v.message, /roles\/monitoring\.viewer/);
        assert.equal(gateVerdict(context({ policy: policy({ mode: "warn" }) }), measured(error, value(1), value(1))).decision, "pass-with-warning");
        assert.equal(gateVerdict(context({ preview: true }), measured(error, value(1), value(1))).decision, "pass-with-warning");
        assert.equal(gateVerdict(context({ rollback: { rollback: true, reason: "r" } }), measured(error, error, error)).decision, "pass-with-warning");
        assert.equal(gateVerdict(context({ creating: true }), measured(error, error, error)).decision, "pass-with-warning", "no route to keep");
        // A measured failure outweighs an unknown.
        assert.equal(gateVerdict(context({ preview: true }), measured(value(100), error, value(5000))).decision, "refuse");
    });

    it("judges the user's own checks against their bounds", () => {
        const p = policy({ checks: [{ name: "5xx from upstream", query: "sum(x{workload=\"{{workload}}\"})", max: 0 }] });
        const checks = measured(value(100), value(1), value(10), p);
        assert.equal(checks[3].query, `sum(x{workload="nginx-green"})`);
        const failing = [...checks.slice(0, 3), { ...checks[3], result: value(4) }];
        const v = gateVerdict(context({ policy: p }), failing);
        assert.equal(v.decision, "refuse");
        assert.match(v.message, /5xx from upstream: 4 \(bound: at most 0\) — OUT OF BOUNDS/);
    });

    it("advises the ways of getting data that apply", () => {
        const idle = dataSourceAdvice("green", { headerName: "x-version", mirrorToIdle: 10, mirrorColor: "green", targetedRoutesToColor: ["internal"], headerTesters: "from 203.0.113.0/24" });
        assert.match(idle[0], /mirrorToIdle already shadows 10%/);
        assert.match(idle[1], /targetedRoutes internal/);
        assert.match(idle[2], /allowed from 203\.0\.113\.0\/24/);
        const notMirrored = dataSourceAdvice("blue", { headerName: "x-version", mirrorToIdle: 0, mirrorColor: "green", targetedRoutesToColor: [] });
        assert.equal(notMirrored.some((a) => a.includes("mirrorToIdle")), false, "the mirror only feeds the idle color");
        assert.match(notMirrored.at(-1)!, /today nobody may use it/);
    });
});

describe("health gate settings (pure)", () => {
    it("accepts the defaults and the managed Prometheus URL", () => {
        assert.deepEqual(checkHealthGatePolicy("healthGate", policy({ queryUrl: managedPrometheusQueryUrl("my-project") })), []);
        assert.equal(managedPrometheusQueryUrl("my-project"), "https://monitoring.googleapis.com/v1/projects/my-project/location/global/prometheus/api/v1/query");
    });

    it("refuses windows shorter than two scrape intervals plus the ingestion delay", () => {
        assert.equal(MIN_GATE_WINDOW_SECONDS, 120);
        assert.equal(windowSeconds("2m"), 120);
        assert.deepEqual(checkHealthGatePolicy("g", policy({ window: "2m" })), []);
        const short = checkHealthGatePolicy("g", policy({ window: "90s" }));
        assert.equal(short.length, 1);
        assert.match(short[0].message, /too short.*two 30s scrape intervals plus 60s of ingestion delay/);
        assert.equal(checkHealthGatePolicy("g", policy({ window: "5 minutes" })).length, 1);
        assert.equal(checkHealthGatePolicy("g", policy({ window: "1m30s" })).length, 1, "PromQL ranges take one unit");
    });

    it("refuses every bad value at once, naming each", () => {
        const problems = checkHealthGatePolicy("g", {
            mode: "strict" as any, window: "1m", minRequests: -1, minSuccessRate: 99, maxP99Ms: 0, requireData: "yes" as any,
            queryTimeoutSeconds: 0, queryUrl: "https://user:pw@prom.example.com/api/v1/query",
            checks: [{ name: "a", query: "up{x=\"{{pod}}\"}", max: 1 }, { name: "a", query: "up", min: 2, max: 1 }],
        });
        assert.deepEqual(problems.map((p) => p.setting), ["g.mode", "g.window", "g.minRequests", "g.minSuccessRate", "g.maxP99Ms", "g.requireData",
            "g.queryTimeoutSeconds", "g.queryUrl", "g.checks[0]", "g.checks[1]", "g.checks[1]"]);
        assert.doesNotMatch(problems.map((p) => p.message).join("\n"), /pw@/, "credentials are never quoted");
        assert.match(problems[8].message, /unknown placeholder \{\{pod\}\}/);
        assert.match(problems[10].message, /repeats the name "a"/);
    });

    it("takes only instant-query URLs", () => {
        assert.equal(checkHealthGatePolicy("g", policy({ queryUrl: "http://prom:9090/api/v1/query_range" })).length, 1);
        assert.equal(checkHealthGatePolicy("g", policy({ queryUrl: "ftp://prom/api/v1/query" })).length, 1);
        assert.equal(checkHealthGatePolicy("g", policy({ queryUrl: "http://prom:9090/api/v1/query?x=1" })).length, 1);
    });
});
