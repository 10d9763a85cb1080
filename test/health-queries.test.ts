import * as assert from "node:assert/strict";
import {
    colorSelector,
    colorWorkload,
    expandCheckQuery,
    latencyQuantileQuery,
    requestCountQuery,
    successRateQuery,
} from "../components/health-queries";

const green = { namespace: "sample-ns", app: "nginx", color: "green" as const, window: "5m" };

describe("health queries (pure)", () => {
    it("select one color's server-side series by workload and namespace, not by version", () => {
        assert.equal(colorWorkload("nginx", "green"), "nginx-green");
        assert.equal(colorSelector(green),
            `{reporter="destination",destination_workload_namespace="sample-ns",destination_workload="nginx-green"}`);
        assert.doesNotMatch(requestCountQuery(green), /destination_version/);
    });

    it("count requests, the non-5xx share and a latency quantile over the window", () => {
        assert.equal(requestCountQuery(green),
            `sum(increase(istio_requests_total{reporter="destination",destination_workload_namespace="sample-ns",destination_workload="nginx-green"}[5m]))`);
        assert.match(successRateQuery(green), /^sum\(rate\(istio_requests_total\{[^}]*,response_code!~"5\.\*"\}\[5m\]\)\) \/ sum\(rate\(istio_requests_total\{[^}]*\}\[5m\]\)\)$/);
        assert.equal(latencyQuantileQuery(green, 0.99),
            `histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket{reporter="destination",destination_workload_namespace="sample-ns",destination_workload="nginx-green"}[5m])))`);
        assert.throws(() => latencyQuantileQuery(green, 99), /between 0 and 1/);
    });

    it("fill every placeholder of a user's check, and leave other braces alone", () => {
        assert.equal(expandCheckQuery(`max(x{namespace="{{namespace}}",pod=~"{{workload}}-.*",c="{{color}}",a="{{app}}"}[{{window}}]) {{other}}`, green),
            `max(x{namespace="sample-ns",pod=~"nginx-green-.*",c="green",a="nginx"}[5m]) {{other}}`);
    });
});
