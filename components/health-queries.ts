import { Color } from "./routing";

/**
 * PromQL over Istio's standard metrics, per color. One module so the health gate, the dashboard,
 * the scrape filter and the promtool tests all speak of the same series with the same selectors.
 *
 * Selectors follow Flagger's built-in Istio checks: `reporter="destination"` (what the receiving
 * sidecar saw, so gateway and in-mesh callers both count, once), keyed on
 * `destination_workload` and `destination_workload_namespace`. Not on `destination_version`:
 * teams relabel versions, and istio/proxy prefers `app.kubernetes.io/version` for it.
 */

/**
 * How often each proxy is scraped: the scrape objects use it, and the health gate's shortest
 * window is built on it (two scrapes plus the ingestion delay). Each scrape is one sample per kept series.
 */
export const SCRAPE_INTERVAL_SECONDS = 30;

/** The request counter every sidecar exports. */
export const ISTIO_REQUESTS_TOTAL = "istio_requests_total";
/** The request duration histogram (milliseconds) every sidecar exports. */
export const ISTIO_REQUEST_DURATION_BUCKET = "istio_request_duration_milliseconds_bucket";
/**
 * Every metric the gate and the dashboard read: the scrape objects keep these and drop the rest
 * (Envoy exports thousands of series per proxy; Managed Prometheus bills per sample).
 */
export const HEALTH_METRICS: readonly string[] = [ISTIO_REQUESTS_TOTAL, ISTIO_REQUEST_DURATION_BUCKET];

/** One color of one app, as the sidecars' metrics name it. */
export interface HealthQueryTarget {
    /** The workload namespace. */
    namespace: string;
    /** The app name; the color's Deployment (and so its Istio workload name) is `<app>-<color>`. */
    app: string;
    /** The color. */
    color: Color;
    /** The PromQL range, e.g. `5m`. */
    window: string;
}

/** The name of a color's Deployment, which is also its Istio workload name (`destination_workload`). */
export function colorWorkload(app: string, color: Color): string {
    return `${app}-${color}`;
}

/** A PromQL string literal (double-quoted, Go escapes). */
export function promString(value: string): string {
    return JSON.stringify(value);
}

/** The label matchers selecting one color's server-side series. */
export function colorSelector(target: Pick<HealthQueryTarget, "namespace" | "app" | "color">, extra: string[] = []): string {
    return `{${[
        `reporter="destination"`,
        `destination_workload_namespace=${promString(target.namespace)}`,
        `destination_workload=${promString(colorWorkload(target.app, target.color))}`,
        ...extra,
    ].join(",")}}`;
}

/** Requests the color received over the window (a count; empty when no series exists). */
export function requestCountQuery(target: HealthQueryTarget): string {
    return `sum(increase(${ISTIO_REQUESTS_TOTAL}${colorSelector(target)}[${target.window}]))`;
}

/** Requests per second the color received, averaged over the window. */
export function requestRateQuery(target: HealthQueryTarget): string {
    return `sum(rate(${ISTIO_REQUESTS_TOTAL}${colorSelector(target)}[${target.window}]))`;
}

/** Share of the color's responses (0..1) that were not 5xx over the window; NaN without requests. */
export function successRateQuery(target: HealthQueryTarget): string {
    const ok = colorSelector(target, [`response_code!~"5.*"`]);
    return `sum(rate(${ISTIO_REQUESTS_TOTAL}${ok}[${target.window}])) / sum(rate(${ISTIO_REQUESTS_TOTAL}${colorSelector(target)}[${target.window}]))`;
}

/** The q-quantile (e.g. 0.99) of the color's request duration in milliseconds over the window. */
export function latencyQuantileQuery(target: HealthQueryTarget, quantile: number): string {
    if (!(quantile > 0 && quantile < 1)) throw new RangeError(`quantile must be between 0 and 1, got ${quantile}`);
    return `histogram_quantile(${quantile}, sum by (le) (rate(${ISTIO_REQUEST_DURATION_BUCKET}${colorSelector(target)}[${target.window}])))`;
}

/** The placeholders a user's own PromQL check may use, and what each becomes. */
export const CHECK_PLACEHOLDERS: readonly string[] = ["{{namespace}}", "{{workload}}", "{{app}}", "{{color}}", "{{window}}"];

/**
 * A user's PromQL check with its placeholders filled in for one color. Names are DNS labels and
 * the window a duration, so the values need no quoting inside the user's own label matchers.
 */
export function expandCheckQuery(query: string, target: HealthQueryTarget): string {
    const values: Record<string, string> = {
        "{{namespace}}": target.namespace,
        "{{workload}}": colorWorkload(target.app, target.color),
        "{{app}}": target.app,
        "{{color}}": target.color,
        "{{window}}": target.window,
    };
    return query.replace(/\{\{(namespace|workload|app|color|window)\}\}/g, (placeholder) => values[placeholder]);
}

/** What the ingress gateway's proxies reported about the app's Service: which gateway, which app. */
export interface GatewayQueryTarget {
    /** The namespace of the ingress gateway's pods. */
    gatewayNamespace: string;
    /** The workload namespace, where the app's Service lives. */
    namespace: string;
    /** The app name, which is also its Service's name. */
    app: string;
    /** The PromQL range, e.g. `5m`. */
    window: string;
}

/**
 * The label matchers selecting the gateway's client-side series for the app's Service. Keyed on the
 * Service, not the workload: a request the gateway could send to no pod (503, no healthy upstream)
 * carries `destination_workload="unknown"` but still names the Service it was routed to.
 */
export function gatewaySelector(target: Omit<GatewayQueryTarget, "window">, extra: string[] = []): string {
    return `{${[
        `reporter="source"`,
        `source_workload_namespace=${promString(target.gatewayNamespace)}`,
        `destination_service_namespace=${promString(target.namespace)}`,
        `destination_service_name=${promString(target.app)}`,
        ...extra,
    ].join(",")}}`;
}

/**
 * The share (0..1) of the gateway's requests for the app that went to `color` over the window: which
 * color is active, read from the traffic instead of from the configuration. 0 (not empty) for a
 * color that got none while the other got some; mirrored copies are not counted by the gateway.
 */
export function gatewayTrafficShareQuery(target: GatewayQueryTarget, color: Color): string {
    const toColor = gatewaySelector(target, [`destination_workload=${promString(colorWorkload(target.app, color))}`]);
    return `(sum(rate(${ISTIO_REQUESTS_TOTAL}${toColor}[${target.window}])) or vector(0)) / sum(rate(${ISTIO_REQUESTS_TOTAL}${gatewaySelector(target)}[${target.window}]))`;
}

/** Share (0..1) of the app's requests the gateway answered without a 5xx, including those no pod received. */
export function gatewaySuccessRateQuery(target: GatewayQueryTarget): string {
    const ok = gatewaySelector(target, [`response_code!~"5.*"`]);
    return `sum(rate(${ISTIO_REQUESTS_TOTAL}${ok}[${target.window}])) / sum(rate(${ISTIO_REQUESTS_TOTAL}${gatewaySelector(target)}[${target.window}]))`;
}

/**
 * A scrape-time filter: keep a series only when its label values, joined with `;` in
 * `sourceLabels` order, match `regex` in full (Prometheus's `keep` relabeling action).
 */
export interface SeriesFilter {
    /** The labels whose values are joined, `__name__` (the metric name) first. */
    sourceLabels: string[];
    /** A regular expression (RE2, anchored at both ends) the joined values must match. */
    regex: string;
}

/** `value` as a regular expression matching exactly it. */
function literalRegex(value: string): string {
    return value.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The metric names of {@link HEALTH_METRICS} as one regular expression alternative. */
function healthMetricsRegex(): string {
    return `(${HEALTH_METRICS.map(literalRegex).join("|")})`;
}

/**
 * What the sidecars' scrape keeps: the health metrics as the receiving sidecar reports them (the
 * series {@link colorSelector} reads); everything else Envoy exports is dropped before ingestion.
 */
export function sidecarSeriesFilter(): SeriesFilter {
    return { sourceLabels: ["__name__", "reporter"], regex: `${healthMetricsRegex()};destination` };
}

/**
 * What the gateway's scrape keeps: the health metrics it reports about this app's Service (the
 * series {@link gatewaySelector} reads), so apps sharing one gateway each keep only their own.
 */
export function gatewaySeriesFilter(target: Pick<GatewayQueryTarget, "namespace" | "app">): SeriesFilter {
    return {
        sourceLabels: ["__name__", "reporter", "destination_service_namespace", "destination_service_name"],
        regex: `${healthMetricsRegex()};source;${literalRegex(target.namespace)};${literalRegex(target.app)}`,
    };
}
