import * as assert from "node:assert/strict";
import { ISTIO_DURATION_BUCKETS_MS, IstioTraffic } from "../e2e/istio-exporter";

/** The samples of an exposition as `name{labels}` -> value, and each sample's labels. */
function samples(text: string): { name: string; labels: Record<string, string>; value: number }[] {
    return text.split("\n").filter((l) => l && !l.startsWith("#")).map((line) => {
        const m = /^([a-z_]+)\{(.*)\} (\S+)$/.exec(line);
        assert.ok(m, `not a sample line: ${line}`);
        const labels = Object.fromEntries([...m[2].matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
        return { name: m[1], labels, value: Number(m[3]) };
    });
}

/** The sum of the samples of `name` whose labels include `where`. */
function total(text: string, name: string, where: Record<string, string>): number {
    return samples(text).filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v))
        .reduce((sum, s) => sum + s.value, 0);
}

const greenWorkload = { namespace: "sample-ns", app: "nginx", color: "green" };
const green = { reporter: "destination", destination_workload: "nginx-green", destination_workload_namespace: "sample-ns" };

describe("the e2e's Istio-shaped exporter (e2e/istio-exporter.ts)", () => {
    it("has no series for a color that never had traffic, and keeps namespaces apart", () => {
        const traffic = new IstioTraffic();
        traffic.set(greenWorkload, { rps: 10, errorShare: 0, latencyMs: 20 }, 0);
        traffic.set({ ...greenWorkload, namespace: "other-ns" }, { rps: 1, errorShare: 0, latencyMs: 20 }, 0);
        assert.equal(samples(traffic.exposition(5000)).filter((s) => s.labels.destination_workload === "nginx-blue").length, 0);
        assert.equal(total(traffic.exposition(5000), "istio_requests_total", green), 50);
        assert.equal(total(traffic.exposition(5000), "istio_requests_total", { ...green, destination_workload_namespace: "other-ns" }), 5);
    });

    it("counts the set rate per response code, server-side and gateway-side apart", () => {
        const traffic = new IstioTraffic();
        traffic.set(greenWorkload, { rps: 20, errorShare: 0.25, latencyMs: 3000 }, 0);
        const text = traffic.exposition(10_000);
        assert.equal(total(text, "istio_requests_total", { ...green, response_code: "200" }), 150);
        assert.equal(total(text, "istio_requests_total", { ...green, response_code: "503" }), 50);
        assert.equal(total(text, "istio_requests_total", { ...green, reporter: "source", response_code: "503" }), 0);
        assert.equal(total(text, "istio_requests_total", { ...green, reporter: "source" }), 200);
    });

    it("puts every request in the buckets at or above its latency", () => {
        const traffic = new IstioTraffic();
        traffic.set(greenWorkload, { rps: 20, errorShare: 0.25, latencyMs: 3000 }, 0);
        const text = traffic.exposition(10_000);
        for (const le of ISTIO_DURATION_BUCKETS_MS) {
            assert.equal(total(text, "istio_request_duration_milliseconds_bucket", { ...green, le: String(le) }), le >= 3000 ? 200 : 0, `le=${le}`);
        }
        assert.equal(total(text, "istio_request_duration_milliseconds_bucket", { ...green, le: "+Inf" }), 200);
        assert.equal(total(text, "istio_request_duration_milliseconds_count", green), 200);
        assert.equal(total(text, "istio_request_duration_milliseconds_sum", green), 600_000);
        // `le` means "less than or equal": a request of exactly a bound's length is in that bucket.
        traffic.set(greenWorkload, { rps: 10, errorShare: 0, latencyMs: 250 }, 10_000);
        const later = traffic.exposition(20_000);
        assert.equal(total(later, "istio_request_duration_milliseconds_bucket", { ...green, le: "250" }), 100);
        assert.equal(total(later, "istio_request_duration_milliseconds_bucket", { ...green, le: "100" }), 0);
    });

    it("keeps counting from its totals when the traffic changes (counters never go back)", () => {
        const traffic = new IstioTraffic();
        traffic.set(greenWorkload, { rps: 10, errorShare: 0, latencyMs: 20 }, 0);
        traffic.set(greenWorkload, { rps: 0, errorShare: 0, latencyMs: 20 }, 10_000);
        assert.equal(total(traffic.exposition(60_000), "istio_requests_total", green), 100);
        traffic.set(greenWorkload, { rps: 10, errorShare: 1, latencyMs: 3000 }, 60_000);
        const text = traffic.exposition(70_000);
        assert.equal(total(text, "istio_requests_total", { ...green, response_code: "200" }), 100);
        assert.equal(total(text, "istio_requests_total", { ...green, response_code: "503" }), 100);
        assert.equal(total(text, "istio_request_duration_milliseconds_bucket", { ...green, le: "25" }), 100);
        assert.equal(total(text, "istio_request_duration_milliseconds_bucket", { ...green, le: "5000" }), 200);
    });

    it("refuses a profile that no sidecar could report", () => {
        const traffic = new IstioTraffic();
        assert.throws(() => traffic.set(greenWorkload, { rps: 10, errorShare: 1.5, latencyMs: 20 }, 0), /bad traffic profile for sample-ns\/nginx-green/);
        assert.throws(() => traffic.set(greenWorkload, { rps: -1, errorShare: 0, latencyMs: 20 }, 0), /bad traffic profile/);
    });
});
