// Progressive-delivery settings beyond the all-or-nothing switch: weighted split, targeted users,
// mirroring, idle sizing, TLS and resilience. Pure checks and parsers; the component wires them.
import {
    COLORS,
    Color,
    ConnectionPool,
    DEFAULT_CONNECTION_POOL,
    DEFAULT_OUTLIER_DETECTION,
    GatewayTls,
    OutlierDetection,
    RetryPolicy,
    TargetedRoute,
    catchAllSplit,
    cookieMatch,
    otherColor,
} from "./routing";
import { RE2JS } from "re2js";
import { ConfigProblem, DNS_SUBDOMAIN, LABEL_KEY, LABEL_VALUE, checkDnsLabel, checkHeaderName, checkInteger, checkOneOf, describe } from "./validation";

/** Per-route timeouts and retries, and the DestinationRule's outlier detection and connection pool. */
export interface Resilience {
    /** Timeout of every route, e.g. `15s`. */
    timeout: string;
    /** Retry policy of every route. */
    retries: RetryPolicy;
    /** Ejects endpoints that keep failing. */
    outlierDetection: OutlierDetection;
    /** Caps connections and pending requests per color. */
    connectionPool: ConnectionPool;
}

/**
 * Retry conditions under which the request never reached the application, so re-sending it is
 * safe for any method (a POST is not applied twice): the connection failed, the upstream refused
 * the stream (HTTP/2 REFUSED_STREAM), or it was reset before the request went out.
 */
export const SAFE_RETRY_ON = ["connect-failure", "refused-stream", "reset-before-request"] as const;

/**
 * The retry conditions Istio accepts (pkg/config/validation: Envoy's `x-envoy-retry-on` and
 * `x-envoy-retry-grpc-on` values). The others re-send requests the application may have processed:
 * `gateway-error` and `5xx` include the 504 of a per-try timeout, `reset` a reset mid-response.
 */
export const ISTIO_RETRY_ON = [...SAFE_RETRY_ON, "5xx", "gateway-error", "reset", "retriable-4xx", "retriable-status-codes",
    "retriable-headers", "envoy-ratelimited", "http3-post-connect-failure", "cancelled", "deadline-exceeded", "internal",
    "resource-exhausted", "unavailable"] as const;

/** Retries only what is safe for any method (see {@link SAFE_RETRY_ON}); opt in to more with `retries.retryOn`. */
export const DEFAULT_RESILIENCE: Resilience = {
    timeout: "15s",
    retries: { attempts: 2, perTryTimeout: "5s", retryOn: SAFE_RETRY_ON.join(",") },
    outlierDetection: DEFAULT_OUTLIER_DETECTION,
    connectionPool: DEFAULT_CONNECTION_POOL,
};

/** A cert-manager certificate for the gateway's TLS secret. */
export interface CertificateRequest {
    /** Issuer name. */
    issuerName: string;
    /** `ClusterIssuer` (default) or `Issuer` (which must live in the gateway's namespace). */
    issuerKind?: IssuerKind;
}

/** The kind of a cert-manager issuer. */
export const IssuerKind = {
    /** A cluster-wide issuer. */
    ClusterIssuer: "ClusterIssuer",
    /** An issuer in the gateway's namespace. */
    Issuer: "Issuer",
} as const;
/** The kind of a cert-manager issuer. */
export type IssuerKind = (typeof IssuerKind)[keyof typeof IssuerKind];

/** TLS at the ingress gateway, as a workload asks for it (the environment knows the gateway's namespace). */
export interface WorkloadTlsArgs extends GatewayTls {
    /** Have cert-manager issue the secret. */
    certificate?: CertificateRequest;
}

/** TLS at the ingress gateway. */
export interface TlsArgs extends WorkloadTlsArgs {
    /** Namespace of the ingress gateway pods, where the secret (and a Certificate) must live. */
    gatewayNamespace: string;
}

/** Replica counts after idle sizing: the idle color runs `idleReplicas` when set. */
export function effectiveReplicas(activeColor: Color, replicas: Record<Color, number>, idleReplicas?: number): Record<Color, number> {
    const idle = otherColor(activeColor);
    return { ...replicas, [idle]: idleReplicas ?? replicas[idle] } as Record<Color, number>;
}

const DURATION_PART = /(\d+(?:\.\d+)?)(h|ms|m|s)/g;
const DURATION = /^(\d+(\.\d+)?(h|ms|m|s))+$/;
const MILLISECONDS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

/** Milliseconds of a duration such as `1m30s` or `500ms`, or undefined when malformed. */
export function durationMs(value: string): number | undefined {
    if (!DURATION.test(value)) return undefined;
    return [...value.matchAll(DURATION_PART)].reduce((sum, [, n, unit]) => sum + Number(n) * MILLISECONDS[unit], 0);
}

/**
 * Checks a duration as Istio accepts it (`15s`, `1m30s`, `500ms`): Istio's CRDs refuse route
 * timeouts, per-try timeouts and every other duration below 1ms
 * (`duration(self) >= duration('1ms')`).
 */
export function checkDuration(setting: string, value: unknown): ConfigProblem[] {
    const ms = typeof value === "string" ? durationMs(value) : undefined;
    if (ms === undefined) return [{ setting, message: `got ${describe(value)}; allowed values: a positive duration such as 500ms, 15s or 1m` }];
    return ms >= 1 ? [] : [{ setting, message: `got ${describe(value)}, below Istio's minimum of 1ms; allowed values: a duration of at least 1ms, such as 500ms, 15s or 1m` }];
}

/** Checks a regular expression as Istio and Envoy compile it: RE2, which has no lookaround or backreferences. */
export function checkRe2(setting: string, regex: string): ConfigProblem[] {
    try {
        RE2JS.compile(regex);
        return [];
    } catch (e) {
        return [{ setting, message: `has the regex ${describe(regex)}, which RE2 (the engine Istio and Envoy use) refuses: ${(e as Error).message}` }];
    }
}

/** Splits `k=v,k=v` into pairs, reporting a key given twice instead of silently keeping one. */
export function parsePairs(setting: string, value: string): { pairs?: [string, string][]; problems: ConfigProblem[] } {
    const pairs = value.split(",").map((p) => p.trim().split("=").map((x) => x.trim()));
    if (pairs.some((p) => p.length !== 2)) return { problems: [] };
    const keys = pairs.map(([k]) => k);
    const twice = keys.find((k, i) => keys.indexOf(k) !== i);
    if (twice !== undefined) return { problems: [{ setting, message: `names ${describe(twice)} twice in ${describe(value)}; allowed values: each key once` }] };
    return { pairs: pairs as [string, string][], problems: [] };
}

/** Checks a weighted split: known colors, whole numbers from 0 to 100, summing to 100. */
export function checkTrafficWeights(setting: string, weights: Partial<Record<string, number>>): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    for (const [color, weight] of Object.entries(weights)) {
        problems.push(...checkOneOf(`${setting} color`, color, COLORS));
        problems.push(...checkInteger(`${setting}.${color}`, weight, 0, 100));
    }
    const sum = Object.values(weights).reduce<number>((a, w) => a + (w ?? 0), 0);
    if (problems.length === 0 && sum !== 100) {
        problems.push({ setting, message: `weights sum to ${sum}; allowed values: whole numbers that sum to 100, e.g. blue=90,green=10` });
    }
    return problems;
}

/**
 * Checks that every color that receives traffic has pods: the catch-all (active color or the
 * split), targeted routes and the mirror.
 */
export function checkTrafficHasPods(args: {
    activeColor: Color;
    replicas: Record<Color, number>;
    trafficWeights?: Partial<Record<Color, number>>;
    targetedRoutes: TargetedRoute[];
    mirrorToIdle: number;
}, replicaSetting: (color: Color) => string): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    const need = (color: Color, why: string) => {
        if (args.replicas[color] === 0 && !problems.some((p) => p.setting === replicaSetting(color))) {
            problems.push({ setting: replicaSetting(color), message: `is 0 but ${why}; scale it up before sending traffic to it (allowed values: 1 to 1000)` });
        }
    };
    for (const { color } of catchAllSplit(args.activeColor, args.trafficWeights)) {
        need(color, args.trafficWeights ? `trafficWeights sends ${args.trafficWeights[color]}% to ${color}` : `${color} is the active color`);
    }
    for (const route of args.targetedRoutes) need(route.color, `targeted route ${route.name} sends to ${route.color}`);
    if (args.mirrorToIdle > 0) need(otherColor(args.activeColor), `mirrorToIdle shadows traffic to ${otherColor(args.activeColor)}`);
    return problems;
}

/** Checks targeted routes: a known color, at least one condition, valid header names and labels. */
export function checkTargetedRoutes(setting: string, routes: TargetedRoute[]): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    routes.forEach((route, i) => {
        const at = `${setting}[${i}]`;
        problems.push(...checkOneOf(`${at}.color`, route.color, COLORS));
        problems.push(...checkDnsLabel(`${at}.name`, route.name));
        if (Object.keys(route.headers ?? {}).length === 0 && Object.keys(route.sourceLabels ?? {}).length === 0) {
            problems.push({ setting: at, message: "has no condition; allowed values: at least one header, cookie or source-label condition" });
        }
        for (const [name, match] of Object.entries(route.headers ?? {})) {
            problems.push(...checkHeaderName(`${at}.headers`, name));
            if (match.regex !== undefined) problems.push(...checkRe2(`${at}.headers.${name}`, match.regex));
        }
        for (const [key, value] of Object.entries(route.sourceLabels ?? {})) {
            if (!LABEL_KEY.test(key) || !LABEL_VALUE.test(value)) {
                problems.push({ setting: `${at}.sourceLabels`, message: `got ${describe(`${key}=${value}`)}; allowed values: Kubernetes label key=value pairs` });
            }
        }
    });
    return problems;
}

const TARGET_FORMAT = "allowed values: \"<color>:header:<name>=<value>\", \"<color>:header-regex:<name>=<regex>\", " +
    "\"<color>:cookie:<name>=<value>\" or \"<color>:source:<label>=<value>[,<label>=<value>]\", e.g. green:header:x-internal-user=true";

/**
 * Parses the stack-config shorthand of a targeted route (Pulumi project config cannot declare
 * objects, so each rule is a string).
 */
export function parseTargetedRoute(setting: string, value: unknown, index: number): { route?: TargetedRoute; problems: ConfigProblem[] } {
    const m = typeof value === "string" ? /^([a-z]+):(header|header-regex|cookie|source):([^=]+)=(.*)$/.exec(value) : null;
    if (!m) return { problems: [{ setting, message: `got ${describe(value)}; ${TARGET_FORMAT}` }] };
    const [, routeColor, kind, key, rest] = m;
    const name = `target-${index}-${routeColor}`;
    const route: TargetedRoute = { name, color: routeColor as Color };
    if (kind === "header") route.headers = { [key]: { exact: rest } };
    if (kind === "header-regex") route.headers = { [key]: { regex: rest } };
    if (kind === "cookie") route.headers = { cookie: cookieMatch(key, rest) };
    if (kind === "source") {
        const { pairs, problems } = parsePairs(setting, `${key}=${rest}`);
        if (!pairs) return { problems: problems.length ? problems : [{ setting, message: `got ${describe(value)}; ${TARGET_FORMAT}` }] };
        route.sourceLabels = Object.fromEntries(pairs);
    }
    return { route, problems: checkTargetedRoutes(setting, [route]).map((p) => ({ ...p, setting })) };
}

/** Parses `blue=90,green=10`. */
export function parseTrafficWeights(setting: string, value: string): { weights?: Partial<Record<Color, number>>; problems: ConfigProblem[] } {
    const { pairs, problems: duplicates } = parsePairs(setting, value);
    if (duplicates.length > 0) return { problems: duplicates };
    if (!pairs || pairs.some(([, w]) => !/^\d+$/.test(w))) {
        return { problems: [{ setting, message: `got ${describe(value)}; allowed values: <color>=<whole number> pairs summing to 100, e.g. blue=90,green=10` }] };
    }
    const weights = Object.fromEntries(pairs.map(([c, w]) => [c, Number(w)]));
    const problems = checkTrafficWeights(setting, weights).map((p) => ({ ...p, setting }));
    return problems.length ? { problems } : { weights: weights as Partial<Record<Color, number>>, problems };
}

/** Checks mirroring: a percentage, and never combined with a split that already sends live traffic to the idle color. */
export function checkMirror(setting: string, percent: unknown, activeColor: Color, weights?: Partial<Record<Color, number>>): ConfigProblem[] {
    if (typeof percent !== "number" || !(percent >= 0 && percent <= 100)) {
        return [{ setting, message: `got ${describe(percent)}; allowed values: a percentage from 0 to 100` }];
    }
    const idle = otherColor(activeColor);
    if (percent > 0 && (weights?.[idle] ?? 0) > 0) {
        return [{ setting, message: `is ${percent} while trafficWeights already sends ${weights?.[idle]}% of live traffic to ${idle}; allowed values: 0 during a split` }];
    }
    return [];
}

/** Checks TLS settings. */
export function checkTls(setting: string, tls: TlsArgs): ConfigProblem[] {
    const problems: ConfigProblem[] = [
        ...checkDnsLabel(`${setting}.gatewayNamespace`, tls.gatewayNamespace),
    ];
    if (typeof tls.credentialName !== "string" || !DNS_SUBDOMAIN.test(tls.credentialName)) {
        problems.push({ setting: `${setting}.credentialName`, message: `got ${describe(tls.credentialName)}; allowed values: a Secret name (DNS subdomain)` });
    }
    if (tls.certificate) {
        problems.push(...checkDnsLabel(`${setting}.certificate.issuerName`, tls.certificate.issuerName));
        problems.push(...checkOneOf(`${setting}.certificate.issuerKind`, tls.certificate.issuerKind ?? "ClusterIssuer", ["ClusterIssuer", "Issuer"] as const));
    }
    return problems;
}

/** Checks the resilience settings. */
export function checkResilience(setting: string, r: Resilience): ConfigProblem[] {
    return [
        ...checkDuration(`${setting}.timeout`, r.timeout),
        ...checkInteger(`${setting}.retries.attempts`, r.retries.attempts, 0, 10),
        ...checkDuration(`${setting}.retries.perTryTimeout`, r.retries.perTryTimeout),
        ...(typeof r.retries.retryOn === "string" && r.retries.retryOn.split(",").every((c) => (ISTIO_RETRY_ON as readonly string[]).includes(c) || /^[1-5]\d\d$/.test(c)) ? []
            : [{ setting: `${setting}.retries.retryOn`, message: `got ${describe(r.retries.retryOn)}; allowed values: conditions Istio accepts joined by commas ` +
                `(${ISTIO_RETRY_ON.join(", ")}, or an HTTP status code), e.g. ${SAFE_RETRY_ON.join(",")}` }]),
    ];
}
