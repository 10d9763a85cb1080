// The Cloud Monitoring dashboard of one app, as the JSON `gcp.monitoring.Dashboard` takes: pure, so
// tests read it without an engine. Every chart is a PromQL query from health-queries.ts over the
// series the scrape objects keep. Nothing depends on activeColor: which color is active shows in
// the traffic itself (the gateway's share per color), so a switch never touches the dashboard.
import { COLORS, Color } from "./routing";
import {
    GatewayQueryTarget, HealthQueryTarget, gatewaySuccessRateQuery, gatewayTrafficShareQuery, latencyQuantileQuery, requestRateQuery, successRateQuery,
} from "./health-queries";

/** The PromQL range of every chart: smooth enough to read, short enough to show a switch within minutes. */
export const DASHBOARD_WINDOW = "5m";

/** The dashboard grid's width (Cloud Monitoring's mosaic layout has 48 columns). */
const COLUMNS = 48;
/** The height of one row of charts, in grid units. */
const ROW_HEIGHT = 16;

/** What the dashboard shows: one app, behind one ingress gateway. */
export interface HealthDashboardTarget {
    /** The workload namespace. */
    namespace: string;
    /** The app name. */
    app: string;
    /** The namespace of the ingress gateway's pods. */
    gatewayNamespace: string;
}

/** One line of a chart: a PromQL query and its legend. */
interface DataSet {
    timeSeriesQuery: { prometheusQuery: string; unitOverride: string };
    plotType: "LINE";
    legendTemplate: string;
    targetAxis: "Y1";
}

/** One tile of the mosaic layout; a position of 0 is left out (see {@link chart}). */
interface Tile {
    xPos?: number;
    yPos?: number;
    width: number;
    height: number;
    widget: { title: string; xyChart: { dataSets: DataSet[]; yAxis: { label: string; scale: "LINEAR" } } };
}

/** The dashboard body (the API's Dashboard resource without name and etag). */
export interface HealthDashboardJson {
    displayName: string;
    mosaicLayout: { columns: number; tiles: Tile[] };
}

/** The display name of the app's dashboard. */
export function dashboardDisplayName(target: Pick<HealthDashboardTarget, "namespace" | "app">): string {
    return `Blue-green ${target.app} (${target.namespace})`;
}

function line(prometheusQuery: string, legend: string, unit: string): DataSet {
    return { timeSeriesQuery: { prometheusQuery, unitOverride: unit }, plotType: "LINE", legendTemplate: legend, targetAxis: "Y1" };
}

/**
 * A chart tile. The Monitoring API drops zero positions from the JSON it returns, and the provider
 * compares that with ours: an `xPos: 0` here would show the dashboard changed on every preview
 * (terraform-provider-google#16173), switches included. Fields the API adds are ignored by it.
 */
function chart(title: string, yAxis: string, dataSets: DataSet[], at: { x: number; y: number; width: number }): Tile {
    return {
        ...(at.x !== 0 ? { xPos: at.x } : {}),
        ...(at.y !== 0 ? { yPos: at.y } : {}),
        width: at.width, height: ROW_HEIGHT,
        widget: { title, xyChart: { dataSets, yAxis: { label: yAxis, scale: "LINEAR" } } },
    };
}

/**
 * The app's dashboard: the gateway's traffic share per color (which one is active) and its success
 * rate across both, then for each color, side by side (blue left, green right), the request rate,
 * the success rate and the p50/p99 latency as the color's own sidecars measured them.
 */
export function buildHealthDashboard(target: HealthDashboardTarget): HealthDashboardJson {
    const window = DASHBOARD_WINDOW;
    const gateway: GatewayQueryTarget = { ...target, window };
    const half = COLUMNS / 2;
    const of = (color: Color): HealthQueryTarget => ({ namespace: target.namespace, app: target.app, color, window });
    const perColor = (row: number, title: string, yAxis: string, dataSets: (color: Color) => DataSet[]): Tile[] =>
        COLORS.map((color, i) => chart(`${color}: ${title}`, yAxis, dataSets(color), { x: i * half, y: row * ROW_HEIGHT, width: half }));
    return {
        displayName: dashboardDisplayName(target),
        mosaicLayout: {
            columns: COLUMNS,
            tiles: [
                chart("Share of gateway traffic per color (the active color is near 1)", "share",
                    COLORS.map((color) => line(gatewayTrafficShareQuery(gateway, color), color, "1")), { x: 0, y: 0, width: half }),
                chart("Success rate at the gateway, both colors (includes requests no pod received)", "non-5xx share",
                    [line(gatewaySuccessRateQuery(gateway), "gateway", "1")], { x: half, y: 0, width: half }),
                ...perColor(1, "requests per second", "req/s", (color) => [line(requestRateQuery(of(color)), color, "1/s")]),
                ...perColor(2, "success rate (non-5xx share)", "non-5xx share", (color) => [line(successRateQuery(of(color)), color, "1")]),
                ...perColor(3, "latency p50 and p99", "ms", (color) => [
                    line(latencyQuantileQuery(of(color), 0.5), "p50", "ms"),
                    line(latencyQuantileQuery(of(color), 0.99), "p99", "ms"),
                ]),
            ],
        },
    };
}

/**
 * The Cloud console address of a dashboard, from the project and the Dashboard resource's id
 * (`projects/<number>/dashboards/<id>`; only its last segment names the dashboard).
 */
export function dashboardConsoleUrl(project: string, dashboardId: string): string {
    const id = dashboardId.split("/").pop() ?? dashboardId;
    return `https://console.cloud.google.com/monitoring/dashboards/custom/${encodeURIComponent(id)}?project=${encodeURIComponent(project)}`;
}
