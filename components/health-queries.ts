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
