// Who may reach the idle color with the color header. The header routes exist so a team can try
// the idle color in production; without a rule, anyone on the internet can too. Istio
// AuthorizationPolicies at the ingress gateway (and, for in-mesh callers, at the workload) refuse
// requests carrying the header (403) unless they come from an allowed address or carry a valid JWT
// of an allowed issuer. Pure builders and an evaluator; the component declares the objects.
import { COLORS } from "./routing";
import { ConfigProblem, checkOneOf, describe, parseCidr } from "./validation";

/** `restricted`: only allowed callers may use the color header; `open`: anyone may (the seed's behaviour). */
export const PreviewAccessMode = {
    /** Only the allowed addresses and token issuer may send the color header; others get 403. */
    Restricted: "restricted",
    /** Anyone may send the color header (the policy pack warns). */
    Open: "open",
} as const;
/** Who may send the color header. */
export type PreviewAccessMode = (typeof PreviewAccessMode)[keyof typeof PreviewAccessMode];
/** The preview access modes. */
export const PREVIEW_ACCESS_MODES: readonly PreviewAccessMode[] = Object.values(PreviewAccessMode);

/** Who may send the color header. */
export interface PreviewAccess {
    /** Default `restricted`. */
    mode?: PreviewAccessMode;
    /** Client addresses allowed at the ingress gateway, as IPv4 CIDRs (the gateway sees them with externalTrafficPolicy Local). Default none. */
    sourceCidrs?: string[];
    /** Callers with a valid JWT from this issuer are allowed, at the gateway and in the mesh. */
    jwt?: PreviewJwt;
}

/** A JWT issuer whose tokens allow sending the color header. */
export interface PreviewJwt {
    /** The tokens' `iss`. */
    issuer: string;
    /** The issuer's JWKS URL; discovered from the issuer when unset. */
    jwksUri?: string;
}

/** The default: nobody outside may use the header until addresses or an issuer are allowed. */
export const DEFAULT_PREVIEW_ACCESS: ResolvedPreviewAccess = { mode: "restricted", sourceCidrs: [] };

/** Preview access with its defaults applied: what the checks and builders work on. */
export type ResolvedPreviewAccess = Required<Pick<PreviewAccess, "mode" | "sourceCidrs">> & Pick<PreviewAccess, "jwt">;

/** Applies the defaults to what a caller gave (any field may be left out). */
export function resolvePreviewAccess(access: PreviewAccess | undefined): ResolvedPreviewAccess {
    return {
        mode: access?.mode ?? DEFAULT_PREVIEW_ACCESS.mode,
        sourceCidrs: access?.sourceCidrs ?? DEFAULT_PREVIEW_ACCESS.sourceCidrs,
        ...(access?.jwt !== undefined ? { jwt: access.jwt } : {}),
    };
}

/** Checks the preview access settings. */
export function checkPreviewAccess(setting: string, access: ResolvedPreviewAccess): ConfigProblem[] {
    const problems = checkOneOf(`${setting}.mode`, access.mode, PREVIEW_ACCESS_MODES);
    access.sourceCidrs.forEach((cidr, i) => {
        if (!parseCidr(cidr)) {
            problems.push({ setting: `${setting}.sourceCidrs[${i}]`, message: `got ${describe(cidr)}; allowed values: an IPv4 CIDR without host bits, e.g. 203.0.113.0/24 or 198.51.100.7/32` });
        }
    });
    if (access.jwt) {
        if (typeof access.jwt.issuer !== "string" || !/^\S{1,512}$/.test(access.jwt.issuer)) {
            problems.push({ setting: `${setting}.jwt.issuer`, message: `got ${describe(access.jwt.issuer)}; allowed values: the issuer (iss claim), e.g. https://accounts.google.com` });
        }
        if (access.jwt.jwksUri !== undefined && !/^https:\/\/\S+$/.test(access.jwt.jwksUri)) {
            problems.push({ setting: `${setting}.jwt.jwksUri`, message: `got ${describe(access.jwt.jwksUri)}; allowed values: an https:// URL of the issuer's JSON Web Key Set` });
        }
    }
    if (access.mode === "open" && (access.sourceCidrs.length > 0 || access.jwt)) {
        problems.push({ setting: `${setting}.mode`, message: "is open while allowed addresses or an issuer are set; allowed values: restricted (to apply them), or open without them" });
    }
    return problems;
}

/** The condition "the request carries the color header with a color as its value". */
function carriesColorHeader(headerName: string) {
    return [{ key: `request.headers[${headerName}]`, values: [...COLORS] }];
}

/** What an AuthorizationPolicy does with a request its rules match (CUSTOM, an external authorizer, is not emitted here). */
export type AuthorizationAction = "ALLOW" | "DENY";

/** One source of a rule: every field set must hold. */
export interface AuthorizationSource {
    remoteIpBlocks?: string[];
    notRemoteIpBlocks?: string[];
    requestPrincipals?: string[];
    notRequestPrincipals?: string[];
    namespaces?: string[];
    notNamespaces?: string[];
}

/** One condition of a rule: the attribute matches one of `values` and none of `notValues`. */
export interface AuthorizationCondition {
    key: string;
    values?: string[];
    notValues?: string[];
}

/** One operation of a rule: the request's Host matches one of `hosts` (case-insensitively). */
export interface AuthorizationOperation {
    hosts?: string[];
}

/** One rule: any of its sources, any of its operations, and every condition. */
export interface AuthorizationRule {
    from?: { source: AuthorizationSource }[];
    to?: { operation: AuthorizationOperation }[];
    when?: AuthorizationCondition[];
}

/** An Istio AuthorizationPolicy spec, limited to the fields this package emits and evaluates. */
export interface AuthorizationPolicySpec {
    selector: { matchLabels: Record<string, string> };
    action: AuthorizationAction;
    rules: AuthorizationRule[];
}

/** Request principals of an issuer: `<iss>/<sub>` for any subject. */
const principalsOf = (jwt?: { issuer: string }) => (jwt ? [`${jwt.issuer}/*`] : undefined);

/** The ingress gateway a policy guards, and what this app serves through it. */
export interface GatewayScope {
    /** The gateway pods' labels. */
    selector: Record<string, string>;
    /** The app's hosts on the gateway (a leading `*.` wildcard allowed). */
    hosts: string[];
    /** The port numbers of the Gateway's servers (80, and 443 with TLS). */
    serverPorts: number[];
}

/**
 * The Host patterns of an AuthorizationPolicy covering every Host header the gateway routes to the
 * app. Its routes also accept `Host: name:port`, while policy hosts match exactly, so each host
 * comes with its port form too: `name:*` (any port), or for a wildcard host the server ports, the
 * only ones the gateway routes for it (Envoy allows one wildcard per domain).
 */
export function gatewayHostPatterns(hosts: string[], serverPorts: number[]): string[] {
    return hosts.flatMap((host) => [host, ...(host.startsWith("*") ? serverPorts.map((port) => `${host}:${port}`) : [`${host}:*`])]);
}

/**
 * The policy at the ingress gateway: DENY a request to the app's hosts carrying the color header
 * unless its client address is allowed or it has a valid JWT of the issuer. The fields of one
 * source are ANDed, so "not from an allowed address and not with an allowed token" is one rule;
 * with neither allowed, every such request is refused. The hosts keep the policy to this app: on a
 * gateway shared with other apps, their callers are theirs to allow.
 */
export function buildGatewayPreviewPolicy(gateway: GatewayScope, headerName: string, access: ResolvedPreviewAccess): AuthorizationPolicySpec {
    const source = {
        ...(access.sourceCidrs.length ? { notRemoteIpBlocks: [...access.sourceCidrs] } : {}),
        ...(access.jwt ? { notRequestPrincipals: principalsOf(access.jwt) } : {}),
    };
    return {
        selector: { matchLabels: { ...gateway.selector } },
        action: "DENY",
        rules: [{
            ...(Object.keys(source).length ? { from: [{ source }] } : {}),
            to: [{ operation: { hosts: gatewayHostPatterns(gateway.hosts, gateway.serverPorts) } }],
            when: carriesColorHeader(headerName),
        }],
    };
}

/**
 * The policy at the workload, for in-mesh callers (with meshRouting the caller's own sidecar routes
 * by the header): DENY a request carrying the header unless it comes from the ingress gateway's
 * namespace (already checked there) or carries a valid JWT of the issuer. Client addresses mean
 * nothing inside the mesh (pod IPs), so allowed CIDRs do not apply here.
 */
export function buildMeshPreviewPolicy(app: string, gatewayNamespace: string, headerName: string, access: ResolvedPreviewAccess): AuthorizationPolicySpec {
    return {
        selector: { matchLabels: { app } },
        action: "DENY",
        rules: [{
            from: [{ source: { notNamespaces: [gatewayNamespace], ...(access.jwt ? { notRequestPrincipals: principalsOf(access.jwt) } : {}) } }],
            when: carriesColorHeader(headerName),
        }],
    };
}

/** The RequestAuthentication that validates tokens of the issuer (invalid tokens are refused with 401). */
export function buildRequestAuthenticationSpec(matchLabels: Record<string, string>, jwt: { issuer: string; jwksUri?: string }) {
    return {
        selector: { matchLabels: { ...matchLabels } },
        jwtRules: [{ issuer: jwt.issuer, ...(jwt.jwksUri ? { jwksUri: jwt.jwksUri } : {}) }],
    };
}

/** What an AuthorizationPolicy sees of a request. */
export interface AccessRequest {
    headers?: Record<string, string>;
    /** The client address (remote.ip). */
    remoteIp?: string;
    /** `<iss>/<sub>` of a validated JWT. */
    requestPrincipal?: string;
    /** The caller's namespace, from its mTLS identity. */
    sourceNamespace?: string;
    /** The Host header (`:authority`), possibly with a port. */
    host?: string;
}

function inCidr(ip: string | undefined, cidr: string): boolean {
    const parsed = parseCidr(cidr);
    const address = ip ? parseCidr(`${ip}/32`) : undefined;
    if (!parsed || !address) return false;
    const size = 2 ** (32 - parsed[1]);
    return address[0] >= parsed[0] && address[0] < parsed[0] + size;
}

/** Istio's string match: `*` is presence, a leading `*` a suffix match, a trailing one a prefix match, else exact. */
function istioMatch(pattern: string, value: string | undefined, ignoreCase = false): boolean {
    if (value === undefined) return false;
    const [p, v] = ignoreCase ? [pattern.toLowerCase(), value.toLowerCase()] : [pattern, value];
    if (p === "*") return true;
    if (p.startsWith("*")) return v.endsWith(p.slice(1));
    if (p.endsWith("*")) return v.startsWith(p.slice(0, -1));
    return v === p;
}

/** A field of a source: unset holds; `positive` must match one pattern, `negative` none. */
function fieldHolds(positive: string[] | undefined, negative: string[] | undefined, matches: (pattern: string) => boolean): boolean {
    return (positive === undefined || positive.some(matches)) && (negative === undefined || !negative.some(matches));
}

function sourceMatches(s: AuthorizationSource, request: AccessRequest): boolean {
    return fieldHolds(s.remoteIpBlocks, s.notRemoteIpBlocks, (cidr) => inCidr(request.remoteIp, cidr)) &&
        fieldHolds(s.requestPrincipals, s.notRequestPrincipals, (p) => istioMatch(p, request.requestPrincipal)) &&
        fieldHolds(s.namespaces, s.notNamespaces, (n) => istioMatch(n, request.sourceNamespace));
}

/**
 * The values a condition key reads from a request. A header repeated in a request arrives joined
 * with ","; Istio matches a header condition against the whole value or any one element.
 */
function attributeValues(key: string, request: AccessRequest): string[] | undefined {
    const header = /^request\.headers\[(.+)\]$/.exec(key)?.[1].toLowerCase();
    if (header !== undefined) {
        const value = Object.entries(request.headers ?? {}).find(([name]) => name.toLowerCase() === header)?.[1];
        return value === undefined ? undefined : [value, ...(value.includes(",") ? value.split(",") : [])];
    }
    throw new Error(`authorize() does not evaluate the condition key ${key}`);
}

function conditionHolds(c: AuthorizationCondition, request: AccessRequest): boolean {
    const values = attributeValues(c.key, request);
    const matchesAny = (patterns: string[]) => values !== undefined && patterns.some((p) => values.some((v) => istioMatch(p, v)));
    return (c.values === undefined || matchesAny(c.values)) && (c.notValues === undefined || !matchesAny(c.notValues));
}

function ruleMatches(rule: AuthorizationRule, request: AccessRequest): boolean {
    return (rule.from === undefined || rule.from.some(({ source }) => sourceMatches(source, request))) &&
        (rule.to === undefined || rule.to.some(({ operation }) => fieldHolds(operation.hosts, undefined, (h) => istioMatch(h, request.host, true)))) &&
        (rule.when ?? []).every((c) => conditionHolds(c, request));
}

/**
 * Evaluates the AuthorizationPolicies of one workload for a request as Istio does, for the fields
 * this package emits: a rule matches when any of its sources matches (every field of a source) and
 * every condition holds; a policy matches when any rule does. DENY policies are checked first: one
 * that matches refuses the request (403). Then, if the workload has ALLOW policies, the request must
 * match one of them, or it is refused. Otherwise it is allowed (200: routing goes on).
 */
export function authorize(policies: AuthorizationPolicySpec[], request: AccessRequest): 200 | 403 {
    const matched = (p: AuthorizationPolicySpec) => p.rules.some((rule) => ruleMatches(rule, request));
    if (policies.some((p) => p.action === "DENY" && matched(p))) return 403;
    const allows = policies.filter((p) => p.action === "ALLOW");
    if (allows.length > 0 && !allows.some(matched)) return 403;
    return 200;
}
