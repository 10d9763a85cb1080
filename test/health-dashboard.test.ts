import * as assert from "node:assert/strict";
import { DASHBOARD_WINDOW, HealthDashboardJson, buildHealthDashboard, dashboardConsoleUrl, dashboardDisplayName } from "../components/health-dashboard";
import { gatewayTrafficShareQuery, latencyQuantileQuery, requestRateQuery, successRateQuery } from "../components/health-queries";
import { loadProgram } from "../offline/program";
import { loadStackConfig } from "../offline/stack-files";
import { Resources, evaluate, useMocks } from "./harness";

const target = { namespace: "sample-ns", app: "nginx", gatewayNamespace: "istio-ingress" };

/** Every tile's title and its queries. */
function charts(dashboard: HealthDashboardJson): Record<string, string[]> {
    return Object.fromEntries(dashboard.mosaicLayout.tiles.map((t) => [t.widget.title, t.widget.xyChart.dataSets.map((d) => d.timeSeriesQuery.prometheusQuery)]));
}

describe("health dashboard (pure)", () => {
    const dashboard = buildHealthDashboard(target);

    it("shows which color is active from the traffic: the gateway's share per color", () => {
        const share = dashboard.mosaicLayout.tiles.find((t) => /Share of gateway traffic/.test(t.widget.title))!;
        const gateway = { ...target, window: DASHBOARD_WINDOW };
        assert.deepEqual(share.widget.xyChart.dataSets.map((d) => [d.legendTemplate, d.timeSeriesQuery.prometheusQuery]),
            [["blue", gatewayTrafficShareQuery(gateway, "blue")], ["green", gatewayTrafficShareQuery(gateway, "green")]]);
    });

    it("puts each color's request rate, success rate and p50/p99 latency side by side, blue left and green right", () => {
        const c = charts(dashboard);
        for (const color of ["blue", "green"] as const) {
            const of = { namespace: "sample-ns", app: "nginx", color, window: DASHBOARD_WINDOW };
            assert.deepEqual(c[`${color}: requests per second`], [requestRateQuery(of)]);
            assert.deepEqual(c[`${color}: success rate (non-5xx share)`], [successRateQuery(of)]);
            assert.deepEqual(c[`${color}: latency p50 and p99`], [latencyQuantileQuery(of, 0.5), latencyQuantileQuery(of, 0.99)]);
        }
        const tiles = dashboard.mosaicLayout.tiles;
        for (const title of ["requests per second", "success rate (non-5xx share)", "latency p50 and p99"]) {
            const blue = tiles.find((t) => t.widget.title === `blue: ${title}`)!;
            const green = tiles.find((t) => t.widget.title === `green: ${title}`)!;
            assert.equal(blue.yPos, green.yPos, `${title}: one row`);
            assert.equal((blue.xPos ?? 0) + blue.width, green.xPos, `${title}: green right of blue`);
        }
    });

    it("lays the tiles on the 48-column grid without overlap, writing no zero position (the API drops them, which would read as a change)", () => {
        const { columns } = dashboard.mosaicLayout;
        assert.equal(columns, 48);
        for (const t of dashboard.mosaicLayout.tiles) assert.ok(t.xPos !== 0 && t.yPos !== 0, `${t.widget.title}: no zero position`);
        const tiles = dashboard.mosaicLayout.tiles.map((t) => ({ ...t, xPos: t.xPos ?? 0, yPos: t.yPos ?? 0 }));
        for (const t of tiles) assert.ok(t.xPos >= 0 && t.xPos + t.width <= columns && t.height > 0, t.widget.title);
        for (const [i, a] of tiles.entries()) {
            for (const b of tiles.slice(i + 1)) {
                const apart = a.xPos + a.width <= b.xPos || b.xPos + b.width <= a.xPos || a.yPos + a.height <= b.yPos || b.yPos + b.height <= a.yPos;
                assert.ok(apart, `${a.widget.title} and ${b.widget.title} overlap`);
            }
        }
    });

    it("links the console page of a dashboard from the resource's id", () => {
        assert.equal(dashboardConsoleUrl("my-project", "projects/123456/dashboards/0a1b2c"),
            "https://console.cloud.google.com/monitoring/dashboards/custom/0a1b2c?project=my-project");
        assert.equal(dashboardDisplayName(target), "Blue-green nginx (sample-ns)");
    });
});

describe("health dashboard through the stack config (index.ts)", () => {
    let program: () => unknown;
    before(async () => {
        await useMocks();
        program = await loadProgram();
    });

    it("is declared in the cluster's project with the app's JSON, its console URL a stack output, the same for either activeColor", async () => {
        const outputs: unknown[] = [];
        for (const activeColor of ["blue", "green"]) {
            const ev = await evaluate(program, loadStackConfig("dev", { activeColor, appName: "shop" }));
            assert.equal(ev.error, undefined);
            const dashboard = new Resources(ev.resources).ofType("gcp:monitoring/dashboard:Dashboard");
            assert.equal(dashboard.length, 1);
            assert.equal(dashboard[0].inputs.project, "my-gcp-project-id");
            assert.deepEqual(JSON.parse(dashboard[0].inputs.dashboardJson), buildHealthDashboard({ namespace: "sample-ns", app: "shop", gatewayNamespace: "istio-ingress" }));
            assert.match(String(ev.outputs?.dashboardUrl), /^https:\/\/console\.cloud\.google\.com\/monitoring\/dashboards\/custom\/[^?]+\?project=my-gcp-project-id$/);
            outputs.push(dashboard[0].inputs);
        }
        assert.deepEqual(outputs[0], outputs[1]);
    });
});
