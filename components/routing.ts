// Pure builders for the Istio routing objects, plus an evaluator that answers "which color serves
// this request?" the way Istio does. No Pulumi here: tests, the offline renderer and the policy
// pack call these directly.

// Enums are `as const` objects whose type has the same name: what Pulumi's schema analyzer reads as
// an enum (it looks the object up by the type's name). The arrays serve loops and messages.

/** One of the two colors of a blue-green deployment. */
export const Color = {
    /** The blue color. */
    Blue: "blue",
    /** The green color. */
    Green: "green",
} as const;
/** One of the two colors of a blue-green deployment. */
export type Color = (typeof Color)[keyof typeof Color];
/** The two colors, in order. */
export const COLORS: readonly Color[] = Object.values(Color);

/** A load-balancing algorithm of the DestinationRule (Istio `LoadBalancerSettings.simple`). */
export const LoadBalancerPolicy = {
    /** Each endpoint in turn. */
    RoundRobin: "ROUND_ROBIN",
    /** The endpoint with the fewest active requests (of two picked at random). */
    LeastRequest: "LEAST_REQUEST",
    /** A random endpoint. */
    Random: "RANDOM",
} as const;
/** A load-balancing algorithm of the DestinationRule (Istio `LoadBalancerSettings.simple`). */
export type LoadBalancerPolicy = (typeof LoadBalancerPolicy)[keyof typeof LoadBalancerPolicy];
/** The supported load-balancing algorithms. */
export const LOAD_BALANCER_POLICIES: readonly LoadBalancerPolicy[] = Object.values(LoadBalancerPolicy);

/** The pod label that tells the colors apart; DestinationRule subsets select on it. */
export const VERSION_LABEL = "version";

/** The color that is not `color`. */
export function otherColor(color: Color): Color {
    return color === "blue" ? "green" : "blue";
}

/** The cluster-local FQDN of a Service: what Istio destinations and DestinationRules name. */
export function serviceFqdn(service: string, namespace: string): string {
    return `${service}.${namespace}.svc.cluster.local`;
}

/** An Istio HTTPRouteDestination. */
export interface RouteDestination {
    destination: { host: string; subset: string; port: { number: number } };
    weight: number;
}

/** A string match as Istio's `StringMatch` (one of exact, prefix, regex). */
export interface StringMatch {
    /** The exact value. */
    exact?: string;
    /** A prefix of the value. */
    prefix?: string;
    /** An RE2 regular expression the whole value matches. */
    regex?: string;
}

/** A split of the catch-all route between the colors, in percent (whole numbers summing to 100). */
export interface TrafficWeights {
    /** Percent of catch-all traffic to blue. */
    blue?: number;
    /** Percent of catch-all traffic to green. */
    green?: number;
}

/** An Istio HTTPMatchRequest, limited to the conditions this package emits. */
export interface HttpMatchRequest {
    headers?: Record<string, StringMatch>;
    sourceLabels?: Record<string, string>;
}

/** An Istio HTTPRetry policy. */
export interface RetryPolicy {
    /** Retries after the first attempt; 0 turns retries off (the other fields are then not sent: Istio refuses them with 0). */
    attempts: number;
    /** Timeout of each attempt, e.g. `5s`. */
    perTryTimeout: string;
    /** Conditions that trigger a retry, Envoy `retry_on` values joined by commas. */
    retryOn: string;
}

/** An Istio HTTPRoute. */
export interface HttpRoute {
    name: string;
    match?: HttpMatchRequest[];
    route: RouteDestination[];
    mirrors?: { destination: { host: string; subset: string; port: { number: number } }; percentage: { value: number } }[];
    timeout?: string;
    /** The retry policy, or `{ attempts: 0 }` alone when retries are off. */
    retries?: RetryPolicy | { attempts: number };
}

/** The spec of an Istio VirtualService. */
export interface VirtualServiceSpec {
    hosts: string[];
    gateways: string[];
    http: HttpRoute[];
}

/** Requests sent to a chosen color ahead of the catch-all: internal users, QA, in-mesh callers. */
export interface TargetedRoute {
    /** Route name (shown in previews and access logs). */
    name: string;
    /** The color these requests go to. */
    color: Color;
    /** Header conditions (a cookie is matched as a regex on the `cookie` header). */
    headers?: Record<string, StringMatch>;
    /** Labels of the calling workload; applies to in-mesh callers only. */
    sourceLabels?: Record<string, string>;
}

/** Inputs to {@link buildVirtualServiceSpec}. */
export interface VirtualServiceInputs {
    /** Hosts the VirtualService answers for (the Gateway's hosts, plus the Service FQDN for in-mesh callers). */
    hosts: string[];
    /** Gateways the routes are bound to, as `<namespace>/<name>`, plus `mesh` for in-mesh callers. */
    gateways: string[];
    /** FQDN of the Service behind both colors. */
    serviceHost: string;
    /** Port of that Service. */
    servicePort: number;
    /** Header whose exact value picks a color, e.g. `x-version`. */
    headerName: string;
    /** The color that receives every request not picked by a header or rule (unless split by weights). */
    activeColor: Color;
    /** Split of the catch-all route by weight (whole numbers summing to 100); unset sends 100% to activeColor. */
    trafficWeights?: Partial<Record<Color, number>>;
    /** Rules evaluated in order after the header routes and before the catch-all. */
    targetedRoutes?: TargetedRoute[];
    /** Share (0-100) of catch-all traffic shadowed to the idle color, responses discarded. */
    mirrorToIdle?: number;
    /** Timeout of every route, e.g. `15s`. */
    timeout?: string;
    /** Retry policy of every route. */
    retries?: RetryPolicy;
}

function destination(inputs: VirtualServiceInputs, color: Color, weight = 100): RouteDestination {
    return {
        destination: { host: inputs.serviceHost, subset: color, port: { number: inputs.servicePort } },
        weight,
    };
}

/** The catch-all's destinations: the weighted split (colors at 0 omitted) or 100% to the active color. */
export function catchAllSplit(activeColor: Color, weights?: Partial<Record<Color, number>>): { color: Color; weight: number }[] {
    if (!weights) return [{ color: activeColor, weight: 100 }];
    return COLORS.map((color) => ({ color, weight: weights[color] ?? 0 })).filter((d) => d.weight > 0);
}

/**
 * Builds the VirtualService: one header route per color first (Istio takes the first match), then
 * the targeted rules in order, then a single catch-all route to the active color (or the weighted
 * split). Only the catch-all depends on `activeColor`, which is what makes a switch a one-field
 * change.
 */
export function buildVirtualServiceSpec(inputs: VirtualServiceInputs): VirtualServiceSpec {
    const policy = {
        ...(inputs.timeout !== undefined ? { timeout: inputs.timeout } : {}),
        // Istio refuses a retry policy with 0 attempts and any other field: 0 alone turns retries off.
        ...(inputs.retries !== undefined ? { retries: inputs.retries.attempts === 0 ? { attempts: 0 } : { ...inputs.retries } } : {}),
    };
    const headerRoutes: HttpRoute[] = COLORS.map((color) => ({
        name: `${inputs.headerName}-${color}`,
        match: [{ headers: { [inputs.headerName]: { exact: color } } }],
        route: [destination(inputs, color)],
        ...policy,
    }));
    const targeted: HttpRoute[] = (inputs.targetedRoutes ?? []).map((t) => ({
        name: t.name,
        match: [{ ...(t.headers ? { headers: { ...t.headers } } : {}), ...(t.sourceLabels ? { sourceLabels: { ...t.sourceLabels } } : {}) }],
        route: [destination(inputs, t.color)],
        ...policy,
    }));
    const idle = otherColor(inputs.activeColor);
    const catchAll: HttpRoute = {
        name: "default",
        route: catchAllSplit(inputs.activeColor, inputs.trafficWeights).map((d) => destination(inputs, d.color, d.weight)),
        ...(inputs.mirrorToIdle ? {
            mirrors: [{
                destination: { host: inputs.serviceHost, subset: idle, port: { number: inputs.servicePort } },
                percentage: { value: inputs.mirrorToIdle },
            }],
        } : {}),
        ...policy,
    };
    return {
        hosts: [...inputs.hosts],
        gateways: [...inputs.gateways],
        http: [...headerRoutes, ...targeted, catchAll],
    };
}

/** Matches a cookie `name=value` in the Cookie header, wherever it sits among the others. */
export function cookieMatch(name: string, value: string): StringMatch {
    const escape = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    return { regex: `^(.*?;\\s*)?${escape(name)}=${escape(value)}(;.*)?$` };
}

/** Outlier detection: eject endpoints that keep failing (Istio `OutlierDetection`). */
export interface OutlierDetection {
    /** Consecutive 5xx responses that eject an endpoint. */
    consecutive5xxErrors: number;
    /** How often endpoints are scanned, e.g. `10s`. */
    interval: string;
    /** Minimum ejection time, e.g. `30s`. */
    baseEjectionTime: string;
    /** At most this percent of endpoints are ejected at once. */
    maxEjectionPercent: number;
}

/** Connection-pool limits (Istio `ConnectionPoolSettings`). */
export interface ConnectionPool {
    /** TCP limits. */
    tcp: TcpConnectionPool;
    /** HTTP limits. */
    http: HttpConnectionPool;
}

/** TCP connection limits of a color (Istio `ConnectionPoolSettings.TCPSettings`). */
export interface TcpConnectionPool {
    /** Maximum connections to the color. */
    maxConnections: number;
    /** Connect timeout, e.g. `5s`. */
    connectTimeout: string;
}

/** HTTP request limits of a color (Istio `ConnectionPoolSettings.HTTPSettings`). */
export interface HttpConnectionPool {
    /** Maximum requests waiting for a connection. */
    http1MaxPendingRequests: number;
    /** Maximum concurrent requests. */
    http2MaxRequests: number;
    /** Maximum concurrent retries. */
    maxRetries: number;
}

/** Defaults that protect a color from a failing pod and from overload without getting in the way of nginx. */
export const DEFAULT_OUTLIER_DETECTION: OutlierDetection = { consecutive5xxErrors: 5, interval: "10s", baseEjectionTime: "30s", maxEjectionPercent: 50 };
export const DEFAULT_CONNECTION_POOL: ConnectionPool = {
    tcp: { maxConnections: 1024, connectTimeout: "5s" },
    http: { http1MaxPendingRequests: 1024, http2MaxRequests: 1024, maxRetries: 3 },
};

/** The spec of an Istio DestinationRule. */
export interface DestinationRuleSpec {
    host: string;
    trafficPolicy: {
        loadBalancer: { simple: LoadBalancerPolicy };
        outlierDetection?: OutlierDetection;
        connectionPool?: ConnectionPool;
    };
    subsets: { name: Color; labels: Record<string, string> }[];
}

/**
 * Builds the DestinationRule. Both subsets always exist, whichever color is active, so no route
 * can name a subset that has not propagated yet (Istio's make-before-break rule).
 */
export function buildDestinationRuleSpec(serviceHost: string, loadBalancer: LoadBalancerPolicy,
    resilience: { outlierDetection?: OutlierDetection; connectionPool?: ConnectionPool } = {}): DestinationRuleSpec {
    return {
        host: serviceHost,
        trafficPolicy: {
            loadBalancer: { simple: loadBalancer },
            ...(resilience.outlierDetection ? { outlierDetection: { ...resilience.outlierDetection } } : {}),
            ...(resilience.connectionPool ? { connectionPool: structuredClone(resilience.connectionPool) } : {}),
        },
        subsets: COLORS.map((color) => ({ name: color, labels: { [VERSION_LABEL]: color } })),
    };
}

/** TLS termination at the ingress gateway. */
export interface GatewayTls {
    /** Secret with the certificate, in the ingress gateway's namespace (`credentialName`). */
    credentialName: string;
    /** Answer plain HTTP with a redirect to HTTPS. */
    httpsRedirect: boolean;
}

/** An Istio Gateway server. */
export interface GatewayServer {
    port: { number: number; name: string; protocol: string };
    hosts: string[];
    tls?: { httpsRedirect?: boolean; mode?: "SIMPLE"; credentialName?: string };
}

/** The spec of an Istio Gateway. */
export interface GatewaySpec {
    selector: Record<string, string>;
    servers: GatewayServer[];
}

/**
 * Builds the Gateway that admits `hosts` on the ingress pods matched by `selector`: HTTP on 80,
 * and with TLS also HTTPS on 443 (HTTP then optionally redirects).
 */
export function buildGatewaySpec(selector: Record<string, string>, hosts: string[], tls?: GatewayTls): GatewaySpec {
    const http: GatewayServer = { port: { number: 80, name: "http", protocol: "HTTP" }, hosts: [...hosts] };
    if (!tls) return { selector: { ...selector }, servers: [http] };
    return {
        selector: { ...selector },
        servers: [
            tls.httpsRedirect ? { ...http, tls: { httpsRedirect: true } } : http,
            { port: { number: 443, name: "https", protocol: "HTTPS" }, hosts: [...hosts], tls: { mode: "SIMPLE", credentialName: tls.credentialName } },
        ],
    };
}

/** A request as far as routing is concerned: its headers (names are matched lowercase) and, for in-mesh callers, their labels. */
export interface RequestInfo {
    headers?: Record<string, string>;
    sourceLabels?: Record<string, string>;
}

/** Where a request goes: the route that matched, its weighted destinations and any mirror. */
export interface RoutingDecision {
    route: string;
    destinations: { subset: string; weight: number }[];
    mirrors: { subset: string; percent: number }[];
}

function stringMatches(match: StringMatch, value: string | undefined): boolean {
    if (value === undefined) return false;
    if (match.exact !== undefined) return value === match.exact;
    if (match.prefix !== undefined) return value.startsWith(match.prefix);
    if (match.regex !== undefined) return new RegExp(`^(?:${match.regex})$`).test(value);
    return true;
}

function requestMatches(match: HttpMatchRequest, request: RequestInfo): boolean {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(request.headers ?? {})) headers[k.toLowerCase()] = v;
    return Object.entries(match.headers ?? {}).every(([name, m]) => stringMatches(m, headers[name])) &&
        Object.entries(match.sourceLabels ?? {}).every(([k, v]) => request.sourceLabels?.[k] === v);
}

/**
 * Evaluates a VirtualService spec for a request as Istio does: routes in order, the first route
 * with a matching clause (or no clauses) wins. Returns undefined when no route matches (a 404).
 */
export function routeRequest(spec: VirtualServiceSpec, request: RequestInfo): RoutingDecision | undefined {
    for (const route of spec.http) {
        const matches = route.match === undefined || route.match.length === 0 || route.match.some((m) => requestMatches(m, request));
        if (matches) {
            return {
                route: route.name,
                destinations: route.route.map((d) => ({ subset: d.destination.subset, weight: d.weight })),
                mirrors: (route.mirrors ?? []).map((m) => ({ subset: m.destination.subset, percent: m.percentage.value })),
            };
        }
    }
    return undefined;
}

/** One line of a routing table: which requests, and where they go. */
export interface RoutingTableRow {
    /** The requests this route takes, in words. */
    when: string;
    /** Where they go, e.g. `green 100%` or `blue 90%, green 10%`. */
    to: string;
}

function describeStringMatch(name: string, m: StringMatch): string {
    if (m.exact !== undefined) return `header ${name} = "${m.exact}"`;
    if (m.prefix !== undefined) return `header ${name} starts with "${m.prefix}"`;
    if (m.regex !== undefined) return `header ${name} matches /${m.regex}/`;
    return `header ${name} present`;
}

/** The routing table of a VirtualService in plain words, in evaluation order (first match wins). */
export function describeRouting(spec: VirtualServiceSpec): RoutingTableRow[] {
    return spec.http.map((route) => {
        const clauses = (route.match ?? []).map((m) => [
            ...Object.entries(m.headers ?? {}).map(([name, sm]) => describeStringMatch(name, sm)),
            ...(m.sourceLabels ? [`in-mesh caller labelled ${Object.entries(m.sourceLabels).map(([k, v]) => `${k}=${v}`).join(",")}`] : []),
        ].join(" and ") || "any request");
        const mirrors = (route.mirrors ?? []).map((m) => `, mirroring ${m.percentage.value}% to ${m.destination.subset} (responses discarded)`).join("");
        return {
            when: clauses.length === 0 ? "everything else" : clauses.join(" or "),
            to: route.route.map((d) => `${d.destination.subset} ${d.weight}%`).join(", ") + mirrors,
        };
    });
}
