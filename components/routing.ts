// Pure builders for the Istio routing objects, plus an evaluator that answers "which color serves
// this request?" the way Istio does. No Pulumi here: tests, the offline renderer and the policy
// pack call these directly.

/** The two colors of a blue-green deployment. */
export const COLORS = ["blue", "green"] as const;
/** One of the two colors. */
export type Color = (typeof COLORS)[number];

/** The load-balancing algorithms the DestinationRule may use (Istio `LoadBalancerSettings.simple`). */
export const LOAD_BALANCER_POLICIES = ["ROUND_ROBIN", "LEAST_REQUEST", "RANDOM"] as const;
/** One of the supported load-balancing algorithms. */
export type LoadBalancerPolicy = (typeof LOAD_BALANCER_POLICIES)[number];

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
    exact?: string;
    prefix?: string;
    regex?: string;
}

/** An Istio HTTPMatchRequest, limited to the conditions this package emits. */
export interface HttpMatchRequest {
    headers?: Record<string, StringMatch>;
}

/** An Istio HTTPRoute. */
export interface HttpRoute {
    name: string;
    match?: HttpMatchRequest[];
    route: RouteDestination[];
}

/** The spec of an Istio VirtualService. */
export interface VirtualServiceSpec {
    hosts: string[];
    gateways: string[];
    http: HttpRoute[];
}

/** Inputs to {@link buildVirtualServiceSpec}. */
export interface VirtualServiceInputs {
    /** Hosts the VirtualService answers for (the Gateway's hosts). */
    hosts: string[];
    /** Gateways the routes are bound to, as `<namespace>/<name>`. */
    gateways: string[];
    /** FQDN of the Service behind both colors. */
    serviceHost: string;
    /** Port of that Service. */
    servicePort: number;
    /** Header whose exact value picks a color, e.g. `x-version`. */
    headerName: string;
    /** The color that receives every request not picked by the header. */
    activeColor: Color;
}

function destination(inputs: VirtualServiceInputs, color: Color): RouteDestination {
    return {
        destination: { host: inputs.serviceHost, subset: color, port: { number: inputs.servicePort } },
        weight: 100,
    };
}

/**
 * Builds the VirtualService: one header route per color first (Istio takes the first match), then
 * a single catch-all route to the active color. Only the catch-all depends on `activeColor`, which
 * is what makes a switch a one-field change.
 */
export function buildVirtualServiceSpec(inputs: VirtualServiceInputs): VirtualServiceSpec {
    const headerRoutes: HttpRoute[] = COLORS.map((color) => ({
        name: `${inputs.headerName}-${color}`,
        match: [{ headers: { [inputs.headerName]: { exact: color } } }],
        route: [destination(inputs, color)],
    }));
    return {
        hosts: [...inputs.hosts],
        gateways: [...inputs.gateways],
        http: [...headerRoutes, { name: "default", route: [destination(inputs, inputs.activeColor)] }],
    };
}

/** The spec of an Istio DestinationRule. */
export interface DestinationRuleSpec {
    host: string;
    trafficPolicy: { loadBalancer: { simple: LoadBalancerPolicy } };
    subsets: { name: Color; labels: Record<string, string> }[];
}

/**
 * Builds the DestinationRule. Both subsets always exist, whichever color is active, so no route
 * can name a subset that has not propagated yet (Istio's make-before-break rule).
 */
export function buildDestinationRuleSpec(serviceHost: string, loadBalancer: LoadBalancerPolicy): DestinationRuleSpec {
    return {
        host: serviceHost,
        trafficPolicy: { loadBalancer: { simple: loadBalancer } },
        subsets: COLORS.map((color) => ({ name: color, labels: { [VERSION_LABEL]: color } })),
    };
}

/** The spec of an Istio Gateway with one plain-HTTP server. */
export interface GatewaySpec {
    selector: Record<string, string>;
    servers: { port: { number: number; name: string; protocol: string }; hosts: string[] }[];
}

/** Builds the Gateway that admits `hosts` on port 80 of the ingress pods matched by `selector`. */
export function buildGatewaySpec(selector: Record<string, string>, hosts: string[]): GatewaySpec {
    return {
        selector: { ...selector },
        servers: [{ port: { number: 80, name: "http", protocol: "HTTP" }, hosts: [...hosts] }],
    };
}

/** A request as far as routing is concerned: its headers (names are matched lowercase). */
export interface RequestInfo {
    headers?: Record<string, string>;
}

/** Where a request goes: the route that matched and its weighted destinations. */
export interface RoutingDecision {
    route: string;
    destinations: { subset: string; weight: number }[];
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
    return Object.entries(match.headers ?? {}).every(([name, m]) => stringMatches(m, headers[name]));
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
        const clauses = (route.match ?? []).map((m) =>
            Object.entries(m.headers ?? {}).map(([name, sm]) => describeStringMatch(name, sm)).join(" and ") || "any request");
        return {
            when: clauses.length === 0 ? "everything else" : clauses.join(" or "),
            to: route.route.map((d) => `${d.destination.subset} ${d.weight}%`).join(", "),
        };
    });
}
