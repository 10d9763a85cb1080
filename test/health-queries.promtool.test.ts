// The health queries on a real PromQL engine: `promtool test rules` evaluates each query over
// series shaped like Istio's (two colors, 5xx, latency buckets, a gateway, no data at all) and
// compares with the values worked out by hand below. promtool comes from $PROMTOOL, the e2e tool
// cache (e2e/build-tools.sh unpacks Debian's prometheus package there) or PATH; without it the
// tests skip and say so.
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import {
    GatewayQueryTarget, HealthQueryTarget, ISTIO_REQUESTS_TOTAL, ISTIO_REQUEST_DURATION_BUCKET, expandCheckQuery, gatewaySuccessRateQuery,
    gatewayTrafficShareQuery, latencyQuantileQuery, requestCountQuery, requestRateQuery, successRateQuery,
} from "../components/health-queries";
import { Color } from "../components/routing";

/** promtool from $PROMTOOL, the e2e tool cache, or PATH. */
const promtool = [process.env.PROMTOOL, path.join(process.env.E2E_CACHE ?? path.join(os.homedir(), ".cache", "bluegreen-e2e"), "path", "promtool"),
    ...(process.env.PATH ?? "").split(path.delimiter).map((d) => path.join(d, "promtool"))].find((p) => p && fs.existsSync(p));

/** Scrapes every 30 s (the scrape objects' interval); the queries look back 5 minutes from minute 10. */
const INTERVAL = "30s";
const SCRAPES = 20;
const EVAL_TIME = "10m";
const WINDOW = "5m";

const NAMESPACE = "sample-ns";
const APP = "nginx";
const target = (color: Color): HealthQueryTarget => ({ namespace: NAMESPACE, app: APP, color, window: WINDOW });
const gateway: GatewayQueryTarget = { gatewayNamespace: "istio-ingress", namespace: NAMESPACE, app: APP, window: WINDOW };

/** A promtool input series: labels and a counter growing by `perScrape` each scrape. */
interface InputSeries { series: string; values: string }

function series(name: string, labels: Record<string, string>, perScrape: number): InputSeries {
    const matchers = Object.entries(labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(",");
    return { series: `${name}{${matchers}}`, values: `0+${perScrape}x${SCRAPES}` };
}

/** The labels a receiving sidecar puts on its series, as Istio's stats filter does (most of them). */
function sidecarLabels(color: Color, extra: Record<string, string> = {}): Record<string, string> {
    return {
        reporter: "destination", source_workload: "istio-ingress", source_workload_namespace: "istio-ingress",
        destination_workload: `${APP}-${color}`, destination_workload_namespace: NAMESPACE, destination_version: color,
        destination_service_name: APP, destination_service_namespace: NAMESPACE, response_flags: "-", ...extra,
    };
}

/** The histogram buckets of `perScrape` requests a scrape, all between `above` and the next bound. */
const BOUNDS = ["10", "25", "50", "100", "250", "500", "1000", "2500", "5000", "+Inf"];
function latencySeries(color: Color, perScrape: number, above: string): InputSeries[] {
    const from = BOUNDS.indexOf(above) + 1;
    return BOUNDS.map((le, i) => series(ISTIO_REQUEST_DURATION_BUCKET, sidecarLabels(color, { response_code: "200", le }), i >= from ? perScrape : 0));
}

/** One expected result: a value, NaN, or no sample at all. */
type Expected = number | "NaN" | "empty";
interface Scenario { name: string; input: InputSeries[]; checks: [string, string, Expected][] }

const per30s = (perSecond: number) => perSecond * 30;

const SCENARIOS: Scenario[] = [
    {
        name: "green healthy and fast, blue half 5xx and slow; other namespaces, other apps and the gateway's side do not count",
        input: [
            series(ISTIO_REQUESTS_TOTAL, sidecarLabels("green", { response_code: "200" }), per30s(2)),
            series(ISTIO_REQUESTS_TOTAL, sidecarLabels("blue", { response_code: "200" }), per30s(1)),
            series(ISTIO_REQUESTS_TOTAL, sidecarLabels("blue", { response_code: "503", response_flags: "URX" }), per30s(0.5)),
            series(ISTIO_REQUESTS_TOTAL, sidecarLabels("blue", { response_code: "500" }), per30s(0.5)),
            // Noise with the same workload name elsewhere, a longer name, and the gateway's own report.
            series(ISTIO_REQUESTS_TOTAL, { ...sidecarLabels("green", { response_code: "500" }), destination_workload_namespace: "other-ns" }, per30s(100)),
            series(ISTIO_REQUESTS_TOTAL, { ...sidecarLabels("green", { response_code: "500" }), destination_workload: "nginx-green-canary" }, per30s(100)),
            series(ISTIO_REQUESTS_TOTAL, { ...sidecarLabels("green", { response_code: "500" }), reporter: "source" }, per30s(100)),
            // 30 green requests a scrape between 25 and 50 ms; 30 blue ones between 1 and 2.5 s.
            ...latencySeries("green", 30, "25"),
            ...latencySeries("blue", 30, "1000"),
        ],
        checks: [
            ["requests of green over 5m", requestCountQuery(target("green")), 600],
            ["requests per second of green", requestRateQuery(target("green")), 2],
            ["success rate of green", successRateQuery(target("green")), 1],
            ["requests of blue over 5m (every status)", requestCountQuery(target("blue")), 600],
            ["success rate of blue (500 and 503 both fail)", successRateQuery(target("blue")), 0.5],
            // histogram_quantile interpolates inside the bucket: 25 + 25 × q, 1000 + 1500 × q.
            ["p50 of green", latencyQuantileQuery(target("green"), 0.5), 37.5],
            ["p99 of green", latencyQuantileQuery(target("green"), 0.99), 49.75],
            ["p99 of blue", latencyQuantileQuery(target("blue"), 0.99), 2485],
        ],
    },
    {
        name: "no data: a color never scraped has no sample; one scraped without traffic counts 0 and its ratios are NaN",
        input: [
            series(ISTIO_REQUESTS_TOTAL, sidecarLabels("blue", { response_code: "200" }), 0),
            ...latencySeries("blue", 0, "25"),
        ],
        checks: [
            ["requests of green (no series at all)", requestCountQuery(target("green")), "empty"],
            ["success rate of green", successRateQuery(target("green")), "empty"],
            ["p99 of green", latencyQuantileQuery(target("green"), 0.99), "empty"],
            ["requests of blue (series, no traffic)", requestCountQuery(target("blue")), 0],
            ["success rate of blue (0/0)", successRateQuery(target("blue")), "NaN"],
            ["p99 of blue (no observations)", latencyQuantileQuery(target("blue"), 0.99), "NaN"],
        ],
    },
    {
        name: "the gateway's view: share per color, and 503s no pod received (destination_workload unknown)",
        input: [
            ...(["blue", "green", "unknown"] as const).map((to, i) => series(ISTIO_REQUESTS_TOTAL, {
                reporter: "source", source_workload: "istio-ingress", source_workload_namespace: "istio-ingress",
                destination_service_name: APP, destination_service_namespace: NAMESPACE,
                destination_workload: to === "unknown" ? "unknown" : `${APP}-${to}`,
                response_code: to === "unknown" ? "503" : "200", response_flags: to === "unknown" ? "UH" : "-",
            }, per30s([3, 0.5, 0.5][i]))),
            // The receiving sidecar's report of the same requests (source: the gateway) must not count twice.
            series(ISTIO_REQUESTS_TOTAL, sidecarLabels("green", { response_code: "500" }), per30s(10)),
            // Another app behind the same gateway.
            series(ISTIO_REQUESTS_TOTAL, {
                reporter: "source", source_workload_namespace: "istio-ingress", destination_service_name: "shop",
                destination_service_namespace: NAMESPACE, destination_workload: "shop-blue", response_code: "500",
            }, per30s(10)),
        ],
        checks: [
            ["share of blue", gatewayTrafficShareQuery(gateway, "blue"), 0.75],
            ["share of green", gatewayTrafficShareQuery(gateway, "green"), 0.125],
            ["success rate at the gateway", gatewaySuccessRateQuery(gateway), 0.875],
        ],
    },
    {
        name: "the gateway's share of a color that got nothing is 0, not missing",
        input: [series(ISTIO_REQUESTS_TOTAL, {
            reporter: "source", source_workload_namespace: "istio-ingress", destination_service_name: APP,
            destination_service_namespace: NAMESPACE, destination_workload: `${APP}-blue`, response_code: "200",
        }, per30s(1))],
        checks: [
            ["share of blue", gatewayTrafficShareQuery(gateway, "blue"), 1],
            ["share of green", gatewayTrafficShareQuery(gateway, "green"), 0],
        ],
    },
    {
        name: "a user's check with placeholders runs as written",
        input: [series(ISTIO_REQUESTS_TOTAL, sidecarLabels("green", { response_code: "429" }), per30s(1))],
        checks: [[
            "429s of green per second",
            expandCheckQuery(`sum(rate(istio_requests_total{destination_workload_namespace="{{namespace}}",destination_workload="{{workload}}",response_code="429"}[{{window}}]))`, target("green")),
            1,
        ]],
    },
];

/** promtool's test file for the scenarios. */
function promtoolTests(scenarios: Scenario[]): string {
    return stringify({
        rule_files: [],
        evaluation_interval: "1m",
        tests: scenarios.map((s) => ({
            name: s.name,
            interval: INTERVAL,
            input_series: s.input,
            promql_expr_test: s.checks.map(([, expr, expected]) => expected === "NaN"
                // promtool compares values with ==, never true for NaN; only NaN differs from itself.
                ? { expr: `count((${expr}) != (${expr}))`, eval_time: EVAL_TIME, exp_samples: [{ labels: "{}", value: 1 }] }
                : { expr, eval_time: EVAL_TIME, exp_samples: expected === "empty" ? [] : [{ labels: "{}", value: expected }] }),
        })),
    });
}

/** Runs promtool on the scenarios in a temporary directory. */
function runPromtool(scenarios: Scenario[]): { status: number | null; output: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-promtool-"));
    try {
        const file = path.join(dir, "health-queries.test.yml");
        fs.writeFileSync(file, promtoolTests(scenarios));
        const run = spawnSync(promtool!, ["test", "rules", file], { cwd: dir, encoding: "utf8" });
        return { status: run.status, output: run.stdout + run.stderr };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

describe("health queries on a real PromQL engine (promtool test rules)", function () {
    this.timeout(60_000);
    before(function () {
        if (!promtool) {
            console.log("      NOTICE: no promtool, so the health queries were not run on a PromQL engine; `bash e2e/build-tools.sh` unpacks it, or set PROMTOOL=<path>.");
            this.skip();
        }
    });

    for (const scenario of SCENARIOS) {
        it(scenario.name, () => {
            const { status, output } = runPromtool([scenario]);
            assert.equal(status, 0, output);
            assert.match(output, /SUCCESS/);
        });
    }

    it("fails when a value is not what the engine computes (the check is real)", () => {
        const wrong = { ...SCENARIOS[0], checks: SCENARIOS[0].checks.map(([name, expr, expected]): [string, string, Expected] =>
            [name, expr, name === "success rate of blue (500 and 503 both fail)" ? 0.75 : expected]) };
        const { status, output } = runPromtool([wrong]);
        assert.equal(status, 1, output);
        assert.match(output, /exp: \{\} 7\.5E-01\s+got: \{\} 5E-01/);
    });
});
