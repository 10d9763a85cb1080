// Who may reach the idle color with the color header. The header routes exist so a team can try
// the idle color in production; without a rule, anyone on the internet can too. Istio
// AuthorizationPolicies at the ingress gateway (and, for in-mesh callers, at the workload) refuse
// requests carrying the header (403) unless they come from an allowed address or carry a valid JWT
// of an allowed issuer. Pure builders and an evaluator; the component declares the objects.
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
        if (access.jwt.jwksUri !== undefined) problems.push(...checkJwksUri(`${setting}.jwt.jwksUri`, access.jwt.jwksUri));
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

/** An Istio AuthorizationPolicy spec, limited to what this package emits. */
export interface AuthorizationPolicySpec {
    selector: { matchLabels: Record<string, string> };
    action: "DENY";
    rules: {
        from?: { source: { notRemoteIpBlocks?: string[]; notRequestPrincipals?: string[]; notNamespaces?: string[] } }[];
        when: { key: string; values: string[] }[];
    }[];
}

/** Request principals of an issuer: `<iss>/<sub>` for any subject. */
const principalsOf = (jwt?: { issuer: string }) => (jwt ? [`${jwt.issuer}/*`] : undefined);

/**
 * The policy at the ingress gateway: DENY a request carrying the color header unless its client
 * address is allowed or it has a valid JWT of the issuer. The fields of one source are ANDed, so
 * "not from an allowed address and not with an allowed token" is one rule; with neither allowed,
 * every request carrying the header is refused.
 */
export function buildGatewayPreviewPolicy(gatewaySelector: Record<string, string>, headerName: string, access: ResolvedPreviewAccess): AuthorizationPolicySpec {
    const source = {
        ...(access.sourceCidrs.length ? { notRemoteIpBlocks: [...access.sourceCidrs] } : {}),
        ...(access.jwt ? { notRequestPrincipals: principalsOf(access.jwt) } : {}),
    };
    return {
        selector: { matchLabels: { ...gatewaySelector } },
        action: "DENY",
        rules: [{ ...(Object.keys(source).length ? { from: [{ source }] } : {}), when: carriesColorHeader(headerName) }],
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
}

function inCidr(ip: string | undefined, cidr: string): boolean {
    const parsed = parseCidr(cidr);
    const address = ip ? parseCidr(`${ip}/32`) : undefined;
    if (!parsed || !address) return false;
    const size = 2 ** (32 - parsed[1]);
    return address[0] >= parsed[0] && address[0] < parsed[0] + size;
}

const principalMatches = (principal: string | undefined, pattern: string) =>
    principal !== undefined && (pattern.endsWith("*") ? principal.startsWith(pattern.slice(0, -1)) : principal === pattern);

/**
 * Evaluates DENY policies for a request as Istio does for the fields this package emits: a rule
 * matches when any of its sources matches (every field of a source) and every condition holds.
 * Returns 403 when a rule of any policy matches, else 200 (routing goes on).
 */
export function authorize(policies: AuthorizationPolicySpec[], request: AccessRequest): 200 | 403 {
    const header = (key: string) => /^request\.headers\[(.+)\]$/.exec(key)?.[1].toLowerCase();
    const headers = Object.fromEntries(Object.entries(request.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    const denied = policies.some((policy) => policy.rules.some((rule) => {
        const fromMatches = rule.from === undefined || rule.from.some(({ source: s }) =>
            (s.notRemoteIpBlocks === undefined || !s.notRemoteIpBlocks.some((c) => inCidr(request.remoteIp, c))) &&
            (s.notRequestPrincipals === undefined || !s.notRequestPrincipals.some((p) => principalMatches(request.requestPrincipal, p))) &&
            (s.notNamespaces === undefined || !s.notNamespaces.includes(request.sourceNamespace ?? "")));
        const whenMatches = rule.when.every((c) => {
            const name = header(c.key);
            return name !== undefined && headers[name] !== undefined && c.values.includes(headers[name]);
        });
        return fromMatches && whenMatches;
    }));
    return denied ? 403 : 200;
}
