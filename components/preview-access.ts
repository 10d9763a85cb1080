// Who may reach the idle color with the color header. The header routes exist so a team can try
// the idle color in production; without a rule, anyone on the internet can too. Istio
// AuthorizationPolicies at the ingress gateway (and, for in-mesh callers, at the workload) refuse
// requests carrying the header (403) unless they come from an allowed address or carry a valid JWT
// of the allowed issuer, for the allowed audiences, with the allowed claims. Pure builders and an
// evaluator; the component declares the objects. docs/preview-access.md explains the choices.
import { COLORS } from "./routing";
import { ConfigProblem, checkJwksUri, checkOneOf, describe, parseCidr } from "./validation";

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
    /** Audiences a token must name (`aud`, one of them). Required: without them Envoy checks no audience, and any token of the issuer passes. */
    audiences: string[];
    /** Claims a token must carry: for every claim named, one of its values. Required, with an identifying claim, for a public issuer (see PUBLIC_JWT_ISSUERS). */
    claims?: PreviewJwtClaim[];
}

/** A claim a token must carry with one of the given values; entries naming the same claim add values. */
export interface PreviewJwtClaim {
    /** The claim's name, e.g. `email`, `hd`, `sub`, `repository`. */
    name: string;
    /** The values allowed, matched exactly (a list claim passes when it holds one of them). */
    values: string[];
}

/**
 * Issuers that hand tokens to anyone, for any audience the requester names: an audience check
 * cannot tell your callers from strangers, so a claim naming who may pass is required. Each lists
 * the claims that identify someone (an account, a repository, an organisation); a claim such as
 * `environment` or `ref` that anyone can give their own job does not.
 */
export const PUBLIC_JWT_ISSUERS: readonly { issuers: string[]; who: string; identifyingClaims: string[] }[] = [
    { issuers: ["https://accounts.google.com", "accounts.google.com"], who: "any Google account or service account, for any audience it names",
        identifyingClaims: ["email", "sub", "hd"] },
    { issuers: ["https://token.actions.githubusercontent.com"], who: "any GitHub Actions workflow of any repository, for any audience it names",
        identifyingClaims: ["sub", "repository", "repository_id", "repository_owner", "repository_owner_id", "job_workflow_ref"] },
    { issuers: ["https://gitlab.com"], who: "any GitLab.com CI job, for any audience it names",
        identifyingClaims: ["sub", "project_id", "project_path", "namespace_id", "namespace_path"] },
    { issuers: ["https://agent.buildkite.com"], who: "any Buildkite pipeline, for any audience it names",
        identifyingClaims: ["sub", "organization_id", "organization_slug"] },
    { issuers: ["https://app.terraform.io"], who: "any HCP Terraform run, for any audience it names",
        identifyingClaims: ["sub", "terraform_organization_id", "terraform_organization_name", "terraform_workspace_id"] },
];

/** The public issuer an `iss` names (compared without case and trailing slashes), if any. */
export function publicIssuer(issuer: string) {
    const normal = (iss: string) => iss.trim().toLowerCase().replace(/\/+$/, "");
    return PUBLIC_JWT_ISSUERS.find((known) => known.issuers.some((iss) => normal(iss) === normal(issuer)));
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
    if (access.jwt) problems.push(...checkPreviewJwt(`${setting}.jwt`, access.jwt));
    if (access.mode === "open" && (access.sourceCidrs.length > 0 || access.jwt)) {
        problems.push({ setting: `${setting}.mode`, message: "is open while allowed addresses or an issuer are set; allowed values: restricted (to apply them), or open without them" });
    }
    return problems;
}

const TOKEN_TEXT = /^\S{1,512}$/;
const CLAIM_NAME = /^[A-Za-z0-9_.:\/-]{1,128}$/;

/** Checks the token requirements: issuer, JWKS URL, audiences, and claims (required for a public issuer). */
function checkPreviewJwt(setting: string, jwt: PreviewJwt): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    if (typeof jwt.issuer !== "string" || !TOKEN_TEXT.test(jwt.issuer)) {
        problems.push({ setting: `${setting}.issuer`, message: `got ${describe(jwt.issuer)}; allowed values: the issuer (iss claim) of your own identity provider, e.g. https://login.example.com` });
    }
    if (jwt.jwksUri !== undefined) problems.push(...checkJwksUri(`${setting}.jwksUri`, jwt.jwksUri));
    if (!Array.isArray(jwt.audiences) || jwt.audiences.length === 0 || !jwt.audiences.every((a) => typeof a === "string" && TOKEN_TEXT.test(a))) {
        problems.push({
            setting: `${setting}.audiences`,
            message: `got ${describe(jwt.audiences)}; allowed values: one or more audiences (aud) your tokens are issued for, e.g. ["https://preview.example.com"]. ` +
                "Without them Envoy checks no audience and any token of the issuer passes",
        });
    }
    const claims = jwt.claims ?? [];
    if (!Array.isArray(claims)) {
        problems.push({ setting: `${setting}.claims`, message: `got ${describe(claims)}; allowed values: a list of claims, each a name and the values allowed` });
        return problems;
    }
    claims.forEach((claim, i) => {
        const valid = typeof claim?.name === "string" && CLAIM_NAME.test(claim.name) && Array.isArray(claim.values) && claim.values.length > 0 &&
            claim.values.every((v) => typeof v === "string" && v.length > 0 && v.length <= 512 && !v.includes("*"));
        if (!valid) {
            problems.push({
                setting: `${setting}.claims[${i}]`,
                message: `got ${describe(claim)}; allowed values: a claim name (letters, digits, _ . : / -) with one or more exact values, no * (e.g. email=alice@example.com)`,
            });
        }
    });
    const known = typeof jwt.issuer === "string" ? publicIssuer(jwt.issuer) : undefined;
    if (known && !claims.some((c) => known.identifyingClaims.includes(c?.name))) {
        problems.push({
            setting: `${setting}.claims`,
            message: `names none of ${known.identifyingClaims.join(", ")}, while ${setting}.issuer ${describe(jwt.issuer)} issues tokens to ${known.who}: ` +
                `audiences do not narrow who passes. Allowed values: claims including one of ${known.identifyingClaims.join(", ")} ` +
                `(e.g. ${known.identifyingClaims[0]}=<who may pass>), or an issuer of your own`,
        });
    }
    return problems;
}

/** The claims a token must carry, one entry per claim name with every value allowed for it. */
function requiredClaims(jwt: PreviewJwt): { name: string; values: string[] }[] {
    const byName = new Map<string, string[]>();
    for (const claim of jwt.claims ?? []) byName.set(claim.name, [...new Set([...(byName.get(claim.name) ?? []), ...claim.values])]);
    return [...byName].map(([name, values]) => ({ name, values }));
}

/**
 * The token conditions a caller must meet besides a valid token of the issuer, as conditions a
 * DENY rule refuses on: an audience not among ours (a token another app's RequestAuthentication on
 * the same gateway accepted names that app's audience), or a required claim without an allowed value.
 */
function tokenMismatches(jwt: PreviewJwt | undefined): AuthorizationCondition[] {
    if (!jwt) return [];
    return [
        { key: "request.auth.audiences", notValues: [...jwt.audiences] },
        ...requiredClaims(jwt).map((c) => ({ key: `request.auth.claims[${c.name}]`, notValues: c.values })),
    ];
}

/**
 * The DENY rules refusing the color header: one for callers that are not exempt (`notExempt`: not
 * from an allowed place) and hold no valid token of the issuer, and one per token condition for
 * callers that are not exempt and hold a token failing it. Rules of one policy are ORed, so a token
 * passes only when it meets every condition.
 */
function refusals(headerName: string, notExempt: AuthorizationSource, jwt: PreviewJwt | undefined, to?: AuthorizationRule["to"]): AuthorizationRule[] {
    const from = (source: AuthorizationSource) => (Object.keys(source).length ? { from: [{ source }] } : {});
    const scope = to ? { to } : {};
    return [
        { ...from({ ...notExempt, ...(jwt ? { notRequestPrincipals: principalsOf(jwt) } : {}) }), ...scope, when: carriesColorHeader(headerName) },
        ...tokenMismatches(jwt).map((mismatch) => ({ ...from(notExempt), ...scope, when: [...carriesColorHeader(headerName), mismatch] })),
    ];
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
    return {
        selector: { matchLabels: { ...gateway.selector } },
        action: "DENY",
        rules: refusals(headerName, access.sourceCidrs.length ? { notRemoteIpBlocks: [...access.sourceCidrs] } : {}, access.jwt,
            [{ operation: { hosts: gatewayHostPatterns(gateway.hosts, gateway.serverPorts) } }]),
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
        rules: refusals(headerName, { notNamespaces: [gatewayNamespace] }, access.jwt),
    };
}

/**
 * The RequestAuthentication that validates tokens of the issuer for the audiences (a token of the
 * issuer that is invalid or names none of them is refused with 401).
 */
export function buildRequestAuthenticationSpec(matchLabels: Record<string, string>, jwt: PreviewJwt) {
    return {
        selector: { matchLabels: { ...matchLabels } },
        jwtRules: [{ issuer: jwt.issuer, audiences: [...jwt.audiences], ...(jwt.jwksUri ? { jwksUri: jwt.jwksUri } : {}) }],
    };
}

/** What an AuthorizationPolicy sees of a request. */
export interface AccessRequest {
    headers?: Record<string, string>;
    /** The client address (remote.ip). */
    remoteIp?: string;
    /** `<iss>/<sub>` of a validated JWT. */
    requestPrincipal?: string;
    /** The claims of that validated JWT (`aud` gives request.auth.audiences); ignored without requestPrincipal. */
    claims?: Record<string, string | string[]>;
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
    // Claims exist only for a validated token; a list claim matches by any element.
    const claim = key === "request.auth.audiences" ? "aud" : /^request\.auth\.claims\[(.+)\]$/.exec(key)?.[1];
    if (claim !== undefined) {
        const value = request.requestPrincipal === undefined ? undefined : request.claims?.[claim];
        return value === undefined ? undefined : Array.isArray(value) ? value : [value];
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
