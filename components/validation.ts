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

/** Checks a non-empty list of distinct DNS host names. */
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
    const duplicates = value.filter((h, i) => value.indexOf(h) !== i);
    if (duplicates.length > 0) {
        problems.push({ setting, message: `lists ${describe(duplicates[0])} more than once; each host may appear once` });
    }
    return problems;
}

/**
 * Checks a container image reference pinned to a tag or digest. `latest` and untagged images are
 * refused: a rollback must bring back exactly the bits that ran before.
 */
export function checkPinnedImage(setting: string, value: unknown): ConfigProblem[] {
    const allowed = `allowed values: an image pinned to a tag other than "latest" or to a digest, e.g. nginx:1.27.5 or nginx@sha256:<64 hex>`;
    if (typeof value !== "string" || value.length === 0 || /\s/.test(value)) {
        return [{ setting, message: `got ${describe(value)}; ${allowed}` }];
    }
    const [nameAndTag, digest] = value.split("@", 2);
    if (digest !== undefined) {
        return /^sha256:[a-f0-9]{64}$/.test(digest) && nameAndTag.length > 0 ? [] : [{ setting, message: `has a malformed digest in ${describe(value)}; ${allowed}` }];
    }
    const lastSegment = nameAndTag.slice(nameAndTag.lastIndexOf("/") + 1);
    const colon = lastSegment.indexOf(":");
    const tag = colon >= 0 ? lastSegment.slice(colon + 1) : "";
    if (tag === "" || tag === "latest" || !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(tag)) {
        return [{ setting, message: `got ${describe(value)}; ${allowed}` }];
    }
    return [];
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
