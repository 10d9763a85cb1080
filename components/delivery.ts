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

// Go's time.ParseDuration units in nanoseconds: Istio reads every duration with it (its CRD
// conversion goes through github.com/golang/protobuf/jsonpb), and so does CEL's duration() in the
// CRDs' `duration(self) >= duration('1ms')` rules.
const GO_DURATION_UNITS: Record<string, bigint> = {
    ns: 1n, us: 1_000n, "\u00b5s": 1_000n, "\u03bcs": 1_000n, ms: 1_000_000n, s: 1_000_000_000n, m: 60_000_000_000n, h: 3_600_000_000_000n,
};
/** The longest duration Go represents: 2^63-1 nanoseconds (about 292 years); longer ones fail to parse. */
export const MAX_GO_DURATION_NS = 2n ** 63n - 1n;
const NS_PER_MS = 1_000_000n;

/**
 * Nanoseconds of a duration as Go's time.ParseDuration reads it (`1m30s`, `500ms`, `1.5h`,
 * `250us`), or undefined when Go refuses it: malformed, or beyond 2^63-1 nanoseconds.
 */
export function parseGoDuration(value: string): bigint | undefined {
    const m = /^([-+]?)(.*)$/s.exec(value)!;
    if (m[2] === "0") return 0n;
    const parts = [...m[2].matchAll(/(\d*)(?:\.(\d*))?([a-z\u00b5\u03bc]+)/g)];
    if (m[2] === "" || parts.map((p) => p[0]).join("") !== m[2]) return undefined;
    let total = 0n;
    for (const [, whole, fraction = "", unit] of parts) {
        const scale = GO_DURATION_UNITS[unit];
        if (scale === undefined || (whole === "" && fraction === "")) return undefined;
        // Go truncates the fraction to whole nanoseconds.
        total += BigInt(whole || "0") * scale + (BigInt(fraction || "0") * scale) / 10n ** BigInt(fraction.length);
        if (total > MAX_GO_DURATION_NS) return undefined;
    }
    return m[1] === "-" ? -total : total;
}

/** Milliseconds of a duration such as `1m30s` or `500ms` (as Go reads it), or undefined when malformed. */
export function durationMs(value: string): number | undefined {
    const ns = parseGoDuration(value);
    return ns === undefined ? undefined : Number(ns) / 1e6;
}

/**
 * Checks a duration as Istio accepts it (`15s`, `1m30s`, `500ms`): Go's duration syntax, no longer
 * than Go can hold (about 292 years), at least 1ms (the CRDs' `duration(self) >= duration('1ms')`)
 * and a whole number of milliseconds (istiod's ValidateDuration: "only durations to ms precision
 * are supported").
 */
export function checkDuration(setting: string, value: unknown): ConfigProblem[] {
    const allowed = "allowed values: a whole number of milliseconds from 1ms to 2562047h, such as 500ms, 15s or 1m30s";
    const ns = typeof value === "string" ? parseGoDuration(value) : undefined;
    if (ns === undefined) {
        return [{ setting, message: `got ${describe(value)}, which is not a duration Istio can read (Go syntax, units h, m, s, ms, us, ns, at most 2562047h); ${allowed}` }];
    }
    if (ns < NS_PER_MS) return [{ setting, message: `got ${describe(value)}, below Istio's minimum of 1ms; ${allowed}` }];
    if (ns % NS_PER_MS !== 0n) return [{ setting, message: `got ${describe(value)}, finer than the millisecond precision Istio accepts; ${allowed}` }];
    return [];
}

/**
 * Envoy's limit on a regex, as istiod enforces it: at most 1024 bytes (pkg/config/validation:
 * "regex is too large, max length allowed is 1024"), checked on the regex Istio receives, so a
 * generated one (a cookie match) counts with everything the package adds.
 */
export const MAX_REGEX_BYTES = 1024;

/**
 * Checks a regular expression as Istio and Envoy take it: not empty ("regex string match should
 * not be empty"), at most {@link MAX_REGEX_BYTES} bytes, and RE2, which has no lookaround or
 * backreferences.
 */
export function checkRe2(setting: string, regex: string): ConfigProblem[] {
    if (regex === "") return [{ setting, message: "has an empty regex, which Istio refuses; allowed values: a non-empty RE2 regex (use an exact match for a fixed value)" }];
    const bytes = Buffer.byteLength(regex, "utf8");
    if (bytes > MAX_REGEX_BYTES) {
        return [{ setting, message: `has a regex of ${bytes} bytes (${describe(regex.slice(0, 40))}...); Istio and Envoy refuse regexes over ${MAX_REGEX_BYTES} bytes; allowed values: a shorter regex or value` }];
    }
    try {
        RE2JS.compile(regex);
        return [];
    } catch (e) {
        return [{ setting, message: `has the regex ${describe(regex)}, which RE2 (the engine Istio and Envoy use) refuses: ${(e as Error).message}; allowed values: an RE2 regex (no lookaround or backreferences)` }];
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
        // cert-manager issuers are ordinary object names: DNS subdomains, dots allowed (letsencrypt.prod).
        if (typeof tls.certificate.issuerName !== "string" || !DNS_SUBDOMAIN.test(tls.certificate.issuerName)) {
            problems.push({ setting: `${setting}.certificate.issuerName`, message: `got ${describe(tls.certificate.issuerName)}; allowed values: an issuer name (a DNS subdomain: lowercase letters, digits, '-' and '.', at most 253), e.g. letsencrypt-prod` });
        }
        problems.push(...checkOneOf(`${setting}.certificate.issuerKind`, tls.certificate.issuerKind ?? "ClusterIssuer", ["ClusterIssuer", "Issuer"] as const));
    }
    return problems;
}

/**
 * The HTTP status codes Go's net/http names (http.StatusText, Go 1.26 src/net/http/status.go):
 * istiod accepts a numeric retryOn condition only when StatusText knows it.
 */
export const GO_KNOWN_STATUS_CODES: ReadonlySet<number> = new Set([100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226,
    300, 301, 302, 303, 304, 305, 307, 308, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418,
    421, 422, 423, 424, 425, 426, 428, 429, 431, 451, 500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511]);

/** Checks retry conditions as istiod does: each a condition it knows or a status code Go names, joined by commas without spaces. */
export function checkRetryOn(setting: string, value: unknown): ConfigProblem[] {
    const known = (c: string) => (ISTIO_RETRY_ON as readonly string[]).includes(c) || (/^\d{3}$/.test(c) && GO_KNOWN_STATUS_CODES.has(Number(c)));
    const unknown = typeof value === "string" ? value.split(",").filter((c) => !known(c)) : [value];
    if (unknown.length === 0) return [];
    return [{
        setting,
        message: `got ${describe(value)}${typeof value === "string" ? ` (${unknown.map((c) => describe(c)).join(", ")} unknown)` : ""}; allowed values: conditions Istio accepts ` +
            `joined by commas without spaces (${ISTIO_RETRY_ON.join(", ")}, or an HTTP status code Go's net/http knows, e.g. 503), e.g. ${SAFE_RETRY_ON.join(",")}`,
    }];
}

/** Checks the resilience settings. */
export function checkResilience(setting: string, r: Resilience): ConfigProblem[] {
    return [
        ...checkDuration(`${setting}.timeout`, r.timeout),
        ...checkInteger(`${setting}.retries.attempts`, r.retries.attempts, 0, 10),
        ...checkDuration(`${setting}.retries.perTryTimeout`, r.retries.perTryTimeout),
        ...checkRetryOn(`${setting}.retries.retryOn`, r.retries.retryOn),
        ...(r.outlierDetection ? [
            ...checkDuration(`${setting}.outlierDetection.interval`, r.outlierDetection.interval),
            ...checkDuration(`${setting}.outlierDetection.baseEjectionTime`, r.outlierDetection.baseEjectionTime),
        ] : []),
        ...(r.connectionPool?.tcp ? checkDuration(`${setting}.connectionPool.tcp.connectTimeout`, r.connectionPool.tcp.connectTimeout) : []),
    ];
}
