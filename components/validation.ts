// Input validation shared by the components and the stack-config reader.
// Every check returns problems instead of throwing, so that one run reports all bad settings at
// once and a caller can throw before it declares any resource.
import { InspectOptionsStylized, inspect } from "node:util";

/** One problem with one setting: `setting` is the argument path or stack config key. */
export interface ConfigProblem {
    /** The argument path (e.g. `colors.blue.replicas`) or stack config key (e.g. `blueReplicas`). */
    setting: string;
    /** What is wrong and what is allowed, in one sentence. */
    message: string;
}

/** Raised for invalid arguments or stack configuration, before any resource is declared. */
export class ConfigError extends Error {
    constructor(public readonly problems: ConfigProblem[]) {
        super(formatProblems(problems));
        this.name = "ConfigError";
    }

    /**
     * Formats as util.inspect does by default, but without colors. The Pulumi runtime reports an
     * error thrown by the program with `util.inspect(err, { colors: true })`, and Node 20.20 colors a
     * stack frame under `node_modules/@scope/<file>` (where the SDK's source maps put its frames) in
     * a loop that runs for half a minute until the string overflows (nodejs/node#64011).
     */
    [inspect.custom](_depth: number, options: InspectOptionsStylized): string {
        const { stylize: _colored, ...plain } = options;
        return inspect(this, { ...plain, colors: false, customInspect: false });
    }
}

function formatProblems(problems: ConfigProblem[]): string {
    const lines = problems.map((p) => `  - ${p.setting}: ${p.message}`);
    return `Invalid configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${lines.join("\n")}`;
}

/** Throws a ConfigError when there is any problem. */
export function throwIfProblems(problems: ConfigProblem[]): void {
    if (problems.length > 0) {
        throw new ConfigError(problems);
    }
}

/** Quotes a user-supplied value for an error message, showing its JSON type when not a string. */
export function describe(value: unknown): string {
    if (value === undefined) return "nothing";
    if (typeof value === "string") return value === "" ? "an empty string" : `"${value}"`;
    return JSON.stringify(value);
}

/** Checks that `value` is exactly one of `allowed` (case-sensitive, as Kubernetes and Istio are). */
export function checkOneOf<T extends string>(setting: string, value: unknown, allowed: readonly T[]): ConfigProblem[] {
    if (typeof value === "string" && (allowed as readonly string[]).includes(value)) {
        return [];
    }
    return [{ setting, message: `got ${describe(value)}; allowed values: ${allowed.join(", ")}` }];
}

/** Checks a whole number within [min, max]. */
export function checkInteger(setting: string, value: unknown, min: number, max: number): ConfigProblem[] {
    if (typeof value === "number" && Number.isInteger(value) && value >= min && value <= max) {
        return [];
    }
    return [{ setting, message: `got ${describe(value)}; allowed values: a whole number from ${min} to ${max}` }];
}

// Name syntaxes Kubernetes enforces; every check in the package uses these.
/** RFC 1123 label (length checked separately): namespaces and most names. */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** RFC 1123 subdomain of at most 253 characters: object names such as Secrets. */
export const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** A label key, with an optional DNS prefix. */
export const LABEL_KEY = /^([a-z0-9.-]+\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
/** A label value (may be empty). */
export const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
// RFC 1035 label: Service names must also start with a letter.
const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** Parses an IPv4 CIDR into [address as number, prefix length], or undefined when malformed. */
export function parseCidr(value: unknown): [number, number] | undefined {
    const m = typeof value === "string" ? /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(value) : null;
    if (!m) return undefined;
    const octets = m.slice(1, 5).map(Number);
    const prefix = Number(m[5]);
    if (octets.some((o) => o > 255) || prefix > 32) return undefined;
    const address = octets.reduce((acc, o) => acc * 256 + o, 0);
    const hostBits = 2 ** (32 - prefix);
    return address % hostBits === 0 ? [address, prefix] : undefined;
}

/**
 * True when IPv4 CIDRs together cover every address: `0.0.0.0/0`, or halves and quarters that add
 * up to it (`0.0.0.0/1` + `128.0.0.0/1`). An allow-list like that admits everyone. Malformed
 * entries cover nothing; `::/0` (every IPv6 address) counts as everyone too.
 */
export function cidrsCoverEverything(cidrs: readonly unknown[]): boolean {
    if (cidrs.some((c) => typeof c === "string" && /^::\/0$/.test(c.trim()))) return true;
    const ranges = cidrs.flatMap((c) => {
        const parsed = parseCidr(c);
        return parsed ? [[parsed[0], parsed[0] + 2 ** (32 - parsed[1])] as const] : [];
    }).sort((a, b) => a[0] - b[0]);
    let covered = 0;
    for (const [start, end] of ranges) {
        if (start > covered) return false;
        covered = Math.max(covered, end);
    }
    return covered >= 2 ** 32;
}

/** Checks an RFC 1123 DNS label (namespaces, label values used as names). */
export function checkDnsLabel(setting: string, value: unknown, maxLength = 63): ConfigProblem[] {
    if (typeof value === "string" && value.length <= maxLength && DNS_LABEL.test(value)) {
        return [];
    }
    return [{
        setting,
        message: `got ${describe(value)}; allowed values: a DNS label of at most ${maxLength} characters ` +
            `(lowercase letters, digits and '-', starting and ending with a letter or digit)`,
    }];
}

/** Checks an RFC 1035 DNS label (names that become Service names). */
export function checkServiceName(setting: string, value: unknown, maxLength: number): ConfigProblem[] {
    if (typeof value === "string" && value.length <= maxLength && DNS_1035_LABEL.test(value)) {
        return [];
    }
    return [{
        setting,
        message: `got ${describe(value)}; allowed values: a DNS-1035 label of at most ${maxLength} characters ` +
            `(lowercase letters, digits and '-', starting with a letter and ending with a letter or digit)`,
    }];
}

/** True for a fully qualified DNS name, optionally with a leading `*.` wildcard as Istio allows. */
export function isDnsName(host: string): boolean {
    const name = host.startsWith("*.") ? host.slice(2) : host;
    if (name.length === 0 || name.length > 253) return false;
    const labels = name.split(".");
    return labels.length >= 2 && labels.every((l) => l.length <= 63 && DNS_LABEL.test(l)) && !/^\d+$/.test(labels[labels.length - 1]);
}

/**
 * True when one host name covers the other as Istio matches them: equal, or a `*.` wildcard whose
 * suffix the other name (or narrower wildcard) ends with.
 */
export function hostsOverlap(a: string, b: string): boolean {
    const covers = (wild: string, name: string) => wild.startsWith("*.") && name.endsWith(wild.slice(1)) && name !== wild;
    return a === b || covers(a, b) || covers(b, a);
}

/** Problems for pairs of hosts in one list that are equal or overlap through a wildcard. */
export function checkHostOverlaps(setting: string, hosts: string[]): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    hosts.forEach((a, i) => hosts.slice(i + 1).forEach((b) => {
        if (a === b) {
            problems.push({ setting, message: `lists ${describe(a)} more than once; allowed values: each host once` });
        } else if (hostsOverlap(a, b)) {
            problems.push({ setting, message: `lists both ${describe(a)} and ${describe(b)}, and the wildcard covers the other; Istio refuses overlapping hosts in one VirtualService; allowed values: hosts that do not overlap (keep one)` });
        }
    }));
    return problems;
}

/** Checks a non-empty list of distinct, non-overlapping DNS host names. */
export function checkHostList(setting: string, value: unknown): ConfigProblem[] {
    const allowed = `allowed values: a non-empty list of lowercase DNS names such as ["sample.hoge.com"] (a leading "*." wildcard is allowed)`;
    if (!Array.isArray(value) || value.length === 0) {
        return [{ setting, message: `got ${describe(value)}; ${allowed}` }];
    }
    const problems: ConfigProblem[] = [];
    value.forEach((host, i) => {
        if (typeof host !== "string" || !isDnsName(host)) {
            problems.push({ setting: `${setting}[${i}]`, message: `got ${describe(host)}; ${allowed}` });
        }
    });
    problems.push(...checkHostOverlaps(setting, value.filter((h): h is string => typeof h === "string" && isDnsName(h))));
    return problems;
}

// The reference grammar of the container distribution project (distribution/reference), which
// kubelet and every registry client parse image names with.
const PATH_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?`;
const IMAGE_REFERENCE = new RegExp(`^((?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*)(?::([\\w][\\w.-]{0,127}))?(?:@([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$`);
/** Digest algorithms registries accept, with their hex lengths. */
const DIGEST_LENGTHS: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

/** Parses an image reference by the distribution grammar: name, optional tag, optional digest. */
export function parseImageReference(value: string): { name: string; tag?: string; digest?: string } | undefined {
    const m = IMAGE_REFERENCE.exec(value);
    if (!m || m[1].length > 255) return undefined;
    if (m[3] !== undefined) {
        const [algorithm, hex] = m[3].split(":");
        if (DIGEST_LENGTHS[algorithm] !== hex.length || !/^[a-f0-9]+$/.test(hex)) return undefined;
    }
    return { name: m[1], tag: m[2], digest: m[3] };
}

/**
 * Checks a container image reference: well formed by the distribution reference grammar (a
 * lowercase repository path, an optional registry host and port, a tag, a digest) and pinned to
 * a tag or digest. `latest` and untagged images are refused: a rollback must bring back exactly
 * the bits that ran before.
 */
export function checkPinnedImage(setting: string, value: unknown): ConfigProblem[] {
    const allowed = `allowed values: an image pinned to a tag other than "latest" or to a digest, e.g. nginx:1.27.5 or nginx@sha256:<64 hex>`;
    const parsed = typeof value === "string" ? parseImageReference(value) : undefined;
    if (!parsed) {
        return [{ setting, message: `got ${describe(value)}, which is not a valid image reference (lowercase repository path, optional registry host[:port]/, :tag, @sha256:<64 lowercase hex>); ${allowed}` }];
    }
    if (parsed.digest === undefined && (parsed.tag === undefined || parsed.tag === "latest")) {
        return [{ setting, message: `got ${describe(value)}, which is not pinned; ${allowed}` }];
    }
    return [];
}

/** Namespaces Kubernetes itself owns: a workload must never create (or on destroy delete) them. */
export const SYSTEM_NAMESPACES = ["kube-system", "kube-public", "kube-node-lease"];

/** Refuses a workload namespace that is already owned by something else (`reserved`: name and owner). */
export function checkOwnNamespace(setting: string, namespace: unknown, reserved: { name: string; owner: string }[]): ConfigProblem[] {
    const taken = reserved.find((r) => r.name === namespace);
    return taken ? [{
        setting,
        message: `is ${describe(namespace)}, the namespace of ${taken.owner}; the workload creates and owns its namespace (destroying the stack deletes it), so it needs one of its own; allowed values: any other DNS label`,
    }] : [];
}

/** Edit distance between two strings (insertions, deletions, substitutions). */
export function editDistance(a: string, b: string): number {
    let previous = [...Array(b.length + 1).keys()];
    for (let i = 1; i <= a.length; i++) {
        const current = [i];
        for (let j = 1; j <= b.length; j++) {
            current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
        }
        previous = current;
    }
    return previous[b.length];
}

/**
 * The known name closest to `name` when it is a plausible misspelling: the same ignoring case,
 * or at most `maxDistance` edits away (default: 1, or 2 for names of 8 characters or more).
 */
export function closestName(name: string, known: Iterable<string>, maxDistance?: number): string | undefined {
    let best: { name: string; distance: number } | undefined;
    for (const candidate of known) {
        const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
        const limit = maxDistance ?? (candidate.length >= 8 ? 2 : 1);
        if (distance <= limit && (!best || distance < best.distance)) best = { name: candidate, distance };
    }
    return best?.name;
}

/** Checks an HTTP header name usable in an Istio match: lowercase token characters only. */
export function checkHeaderName(setting: string, value: unknown): ConfigProblem[] {
    if (typeof value === "string" && /^[a-z0-9][a-z0-9-]*$/.test(value) && value.length <= 100) {
        return [];
    }
    return [{
        setting,
        message: `got ${describe(value)}; allowed values: a lowercase HTTP header name (letters, digits and '-'), e.g. x-version; Istio matches header names in lowercase only`,
    }];
}

// The parts of a URL as Go's url.Parse and the Kubernetes CEL url() library read them, kept to what
// an HTTP client can reach: a DNS name or IP address, an optional port, then RFC 3986 path and
// query characters with well-formed %XX escapes (Go refuses "%zz", the WHATWG parser does not).
const URL_HOST = "(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\\[[0-9A-Fa-f:.]+\\])";
const URL_CHARS = "(?:[A-Za-z0-9\\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})";
const URL_SHAPE = new RegExp(`^([a-z][a-z0-9+.-]*)://(${URL_HOST})(?::(\\d{1,5}))?((?:/${URL_CHARS}*)?)(?:\\?(${URL_CHARS.replace("/]", "/?]")}*))?$`);

/** A URL split into the parts the checks look at, or undefined when it is not a usable absolute URL. */
export function parseUrl(value: string): { scheme: string; host: string; port?: number; path: string; query?: string } | undefined {
    const m = URL_SHAPE.exec(value);
    if (!m) return undefined;
    const port = m[3] === undefined ? undefined : Number(m[3]);
    if (port !== undefined && (port < 1 || port > 65535)) return undefined;
    return { scheme: m[1], host: m[2], ...(port !== undefined ? { port } : {}), path: m[4], ...(m[5] !== undefined ? { query: m[5] } : {}) };
}

/** True when a URL carries credentials: a user (and password) before the host. */
export function urlHasUserInfo(value: string): boolean {
    return /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(value);
}

/** Istio's limit on `jwksUri` (maxLength in the RequestAuthentication CRD). */
export const MAX_JWKS_URI_LENGTH = 2048;

/**
 * Checks a JSON Web Key Set URL as Istio takes it: https, a host, a port from 1 to 65535, no
 * credentials or fragment, well-formed escapes, at most {@link MAX_JWKS_URI_LENGTH} characters
 * (reported here under the setting's own name rather than by the CRD path).
 */
export function checkJwksUri(setting: string, value: unknown): ConfigProblem[] {
    const allowed = `allowed values: an https:// URL of the issuer's JSON Web Key Set, at most ${MAX_JWKS_URI_LENGTH} characters, e.g. https://www.googleapis.com/oauth2/v3/certs`;
    if (typeof value !== "string") return [{ setting, message: `got ${describe(value)}; ${allowed}` }];
    if (value.length > MAX_JWKS_URI_LENGTH) return [{ setting, message: `is ${value.length} characters long, over Istio's limit of ${MAX_JWKS_URI_LENGTH}; ${allowed}` }];
    if (urlHasUserInfo(value)) return [{ setting, message: `holds credentials before the host (the value is not shown); ${allowed}, without user or password` }];
    const url = parseUrl(value);
    if (!url || url.scheme !== "https") {
        return [{ setting, message: `got ${describe(value)}, which is not a well-formed https URL (host, optional port 1-65535, path and query with valid %XX escapes, no fragment); ${allowed}` }];
    }
    return [];
}
