import * as assert from "node:assert/strict";
import { RE2JS } from "re2js";
import { HEALTH_METRICS, SeriesFilter, gatewaySeriesFilter, sidecarSeriesFilter } from "../components/health-queries";
import { GATE_INGESTION_DELAY_SECONDS, MIN_GATE_WINDOW_SECONDS } from "../components/health-verdict";
import {
    ENVOY_STATS_PATH, ENVOY_STATS_PORT, MANAGED_PROMETHEUS_API, SCRAPE_INTERVAL_SECONDS, buildEnvoyPodMonitoringSpec,
} from "../components/workload-telemetry";
import { readStackConfigFromAll } from "../components/stack-config";
import { loadProgram } from "../offline/program";
import { loadStackConfig } from "../offline/stack-files";
import { DEV_ON_EXISTING_CLUSTER, DeclaredResource, Evaluation, PROJECT, Resources, evaluate, useMocks } from "./harness";

/** Whether Prometheus's `keep` action keeps a series with these labels: the joined values match the regex in full (RE2). */
function kept(filter: SeriesFilter, labels: Record<string, string>): boolean {
    return RE2JS.compile(filter.regex).matches(filter.sourceLabels.map((l) => labels[l] ?? "").join(";"));
}

/** A series of Istio's request counter as a sidecar or gateway exports it. */
const series = (name: string, labels: Record<string, string>) => ({ __name__: name, ...labels });

describe("workload telemetry: scrape filters (pure)", () => {
    const destination = { reporter: "destination", destination_workload_namespace: "sample-ns", destination_workload: "nginx-green" };
    const gatewaySeen = { reporter: "source", destination_service_namespace: "sample-ns", destination_service_name: "nginx", destination_workload: "nginx-blue" };

    it("keep on the sidecars exactly the health metrics as the receiving sidecar reports them", () => {
        const filter = sidecarSeriesFilter();
        for (const metric of HEALTH_METRICS) assert.ok(kept(filter, series(metric, destination)), metric);
        assert.deepEqual(HEALTH_METRICS, ["istio_requests_total", "istio_request_duration_milliseconds_bucket"]);
        for (const dropped of [
            series("istio_requests_total", { ...destination, reporter: "source" }), // the sidecar's own outbound calls
            series("istio_request_duration_milliseconds_sum", destination), // _sum and _count: no query reads them
            series("istio_request_duration_milliseconds_count", destination),
            series("istio_request_bytes_bucket", destination),
            series("envoy_cluster_upstream_rq_total", { cluster_name: "outbound|80||nginx.sample-ns.svc.cluster.local" }),
            series("xistio_requests_total", destination), // the match is anchored at both ends
        ]) {
            assert.equal(kept(filter, dropped), false, JSON.stringify(dropped));
        }
    });

    it("keep on the gateway only this app's Service, so apps sharing a gateway never keep each other's series", () => {
        const filter = gatewaySeriesFilter({ namespace: "sample-ns", app: "nginx" });
        for (const metric of HEALTH_METRICS) assert.ok(kept(filter, series(metric, gatewaySeen)), metric);
        // A 503 with no healthy upstream has no workload, but still names the Service: kept.
        assert.ok(kept(filter, series("istio_requests_total", { ...gatewaySeen, destination_workload: "unknown", response_code: "503" })));
        for (const dropped of [
            series("istio_requests_total", { ...gatewaySeen, destination_service_name: "nginx2" }),
            series("istio_requests_total", { ...gatewaySeen, destination_service_name: "shop" }),
            series("istio_requests_total", { ...gatewaySeen, destination_service_namespace: "other-ns" }),
            series("istio_requests_total", { ...gatewaySeen, reporter: "destination" }),
            series("envoy_server_live", {}),
        ]) {
            assert.equal(kept(filter, dropped), false, JSON.stringify(dropped));
        }
    });

    it("scrape Envoy's stats port of the selected pods every 30 s, filtered by one keep rule", () => {
        const filter = sidecarSeriesFilter();
        assert.deepEqual(buildEnvoyPodMonitoringSpec({ app: "nginx" }, filter), {
            selector: { matchLabels: { app: "nginx" } },
            endpoints: [{
                port: "http-envoy-prom",
                path: "/stats/prometheus",
                scheme: "http",
                interval: "30s",
                metricRelabeling: [{ action: "keep", sourceLabels: filter.sourceLabels, separator: ";", regex: filter.regex }],
            }],
        });
        assert.deepEqual([ENVOY_STATS_PORT, ENVOY_STATS_PATH, SCRAPE_INTERVAL_SECONDS], ["http-envoy-prom", "/stats/prometheus", 30]);
    });

    it("scrape as often as the gate's shortest window assumes (two scrapes plus ingestion delay)", () => {
        assert.equal(MIN_GATE_WINDOW_SECONDS, 2 * SCRAPE_INTERVAL_SECONDS + GATE_INGESTION_DELAY_SECONDS);
    });
});

describe("workload telemetry through the stack config (index.ts)", () => {
    let program: () => unknown;
    before(async () => {
        await useMocks();
        program = await loadProgram();
    });
    const run = (overrides: Record<string, string> = {}): Promise<Evaluation> => evaluate(program, loadStackConfig("dev", overrides));
    const podMonitorings = (ev: Evaluation): DeclaredResource[] =>
        ev.resources.filter((r) => r.type === `kubernetes:${MANAGED_PROMETHEUS_API}:PodMonitoring`);
    const byNamespace = (ev: Evaluation) => Object.fromEntries(podMonitorings(ev).map((r) => [r.inputs.metadata.namespace, r.inputs]));

    it("on a cluster built here (the dev stack): scrapes the sidecars and the gateway, each waiting for its namespace", async () => {
        const ev = await run();
        assert.equal(ev.error, undefined);
        const r = new Resources(ev.resources);
        const monitors = byNamespace(ev);
        assert.deepEqual(Object.keys(monitors).sort(), ["istio-ingress", "sample-ns"]);
        assert.equal(monitors["sample-ns"].metadata.name, "nginx-sidecars");
        assert.deepEqual(monitors["sample-ns"].spec, buildEnvoyPodMonitoringSpec({ app: "nginx" }, sidecarSeriesFilter()));
        assert.equal(monitors["istio-ingress"].metadata.name, "nginx-ingress-gateway");
        // The installed gateway's pod labels, as the Gateway object selects them.
        assert.deepEqual(monitors["istio-ingress"].spec, buildEnvoyPodMonitoringSpec(r.only("Gateway").inputs.spec.selector,
            gatewaySeriesFilter({ namespace: "sample-ns", app: "nginx" })));
        const namespaceUrn = (name: string) => r.ofType("kubernetes:core/v1:Namespace").find((n) => n.inputs.metadata.name === name)!.urn;
        for (const m of podMonitorings(ev)) assert.ok(m.dependsOn.includes(namespaceUrn(m.inputs.metadata.namespace)), `${m.name} waits for its namespace`);
    });

    it("collectMetrics=false: no scrape object and no dashboard", async () => {
        const ev = await run({ collectMetrics: "false" });
        assert.equal(ev.error, undefined);
        assert.deepEqual(podMonitorings(ev), []);
        assert.equal(ev.resources.filter((r) => r.type === "gcp:monitoring/dashboard:Dashboard").length, 0);
        assert.equal(ev.outputs?.dashboardUrl, "");
    });

    it("on an existing cluster: nothing by default; collectMetrics=true scrapes its gateway, still without any GCP resource", async () => {
        const plain = await run(DEV_ON_EXISTING_CLUSTER);
        assert.equal(plain.error, undefined);
        assert.deepEqual(podMonitorings(plain), []);
        const collected = await run({ ...DEV_ON_EXISTING_CLUSTER, collectMetrics: "true", ingressGatewaySelector: "app=edge", ingressGatewayNamespace: "edge" });
        assert.equal(collected.error, undefined, collected.error?.message);
        const monitors = byNamespace(collected);
        assert.deepEqual(Object.keys(monitors).sort(), ["edge", "sample-ns"]);
        assert.deepEqual(monitors.edge.spec.selector, { matchLabels: { app: "edge" } });
        assert.deepEqual(collected.resources.filter((r) => r.type.startsWith("gcp:")), []);
        assert.equal(collected.outputs?.dashboardUrl, "");
    });

    it("warns when collectMetrics is off while the gate would read Managed Prometheus, which nothing here feeds", () => {
        const all = (overrides: Record<string, string>) => loadStackConfig("dev", overrides);
        const warnings = (overrides: Record<string, string>) => readStackConfigFromAll(all(overrides), PROJECT, "dev").warnings.filter((w) => w.setting === "collectMetrics");
        assert.match(warnings({ collectMetrics: "false" })[0]?.message ?? "", /health gate queries Managed Prometheus, which then gets none of the series/);
        for (const quiet of [{}, { collectMetrics: "false", healthGate: "off" }, { collectMetrics: "false", healthGateQueryUrl: "http://prometheus.example.com/api/v1/query" }] as Record<string, string>[]) {
            assert.deepEqual(warnings(quiet), [], JSON.stringify(quiet));
        }
    });

    it("refuses a collectMetrics that is not auto, true or false, naming the setting", async () => {
        const ev = await run({ collectMetrics: "yes" });
        assert.match(ev.error?.message ?? "", /collectMetrics: got "yes"; allowed values: auto \(on when this stack builds the GKE cluster\), true, false/);
    });
});
