// The health gate's policy (settings, defaults, validation) and its verdicts: from the values
// measured for a color and the bounds, whether the VirtualService change may go ahead, and the
// message a user reads. Pure: no Pulumi, no HTTP.
import { CHECK_PLACEHOLDERS, HealthQueryTarget, colorWorkload, expandCheckQuery, latencyQuantileQuery, requestCountQuery, successRateQuery } from "./health-queries";
import { Color } from "./routing";
import { ConfigProblem, describe, parseUrl, urlHasUserInfo } from "./validation";

/** What the gate does with a color that is out of bounds. */
export const HealthGateMode = {
    /** Refuse the change: `pulumi up` fails and the VirtualService stays as it was. */
    Enforce: "enforce",
    /** Let the change through with a warning. */
    Warn: "warn",
    /** No gate: no queries. */
    Off: "off",
} as const;
/** What the gate does with a color that is out of bounds. */
export type HealthGateMode = (typeof HealthGateMode)[keyof typeof HealthGateMode];
/** The gate's modes. */
export const HEALTH_GATE_MODES: readonly HealthGateMode[] = Object.values(HealthGateMode);

/** A PromQL check of the user's own, with placeholders, and the bounds its value must keep. */
export interface HealthCheck {
    /** Name shown in the verdict. */
    name: string;
    /** PromQL returning one number; may use {{namespace}}, {{workload}}, {{app}}, {{color}}, {{window}}. */
    query: string;
    /** The value must be at least this. */
    min?: number;
    /** The value must be at most this. */
    max?: number;
}

/** The health gate's settings. */
export interface HealthGatePolicy {
    /** enforce, warn or off. */
    mode: HealthGateMode;
    /** Prometheus instant-query URL (`.../api/v1/query`); unset: no endpoint known, the gate cannot run. */
    queryUrl?: string;
    /** PromQL range every query looks back over, e.g. `5m`. */
    window: string;
    /** Fewer requests than this in the window: not enough data to judge the color. */
    minRequests: number;
    /** Lowest share (0..1) of non-5xx responses. */
    minSuccessRate: number;
    /** Highest p99 request duration, in milliseconds. */
    maxP99Ms: number;
    /** No data fails closed (production-grade strictness), instead of passing with a warning. */
    requireData: boolean;
    /** Extra checks. */
    checks: HealthCheck[];
    /** Seconds each query may take before it counts as failed. */
    queryTimeoutSeconds: number;
}

/**
 * The scrape interval the gate assumes (the scrape objects' interval) and how long Managed
 * Prometheus may take before a scraped sample can be queried. `rate()` needs two samples in its
 * window, and the newest ones may not be queryable yet: a shorter window reads nothing.
 */
export const GATE_SCRAPE_INTERVAL_SECONDS = 30;
export const GATE_INGESTION_DELAY_SECONDS = 60;
/** The shortest window the gate accepts: two scrape intervals plus the ingestion delay (2m). */
export const MIN_GATE_WINDOW_SECONDS = 2 * GATE_SCRAPE_INTERVAL_SECONDS + GATE_INGESTION_DELAY_SECONDS;
/** The longest window: the gate is about how the color does now. */
export const MAX_GATE_WINDOW_SECONDS = 24 * 3600;

/** Defaults of the gate's settings (Pulumi.yaml and the stack config share them). */
export const HEALTH_GATE_DEFAULTS = {
    mode: HealthGateMode.Enforce,
    window: "5m",
    minRequests: 20,
    minSuccessRate: 0.99,
    maxP99Ms: 1000,
    requireData: false,
    queryTimeoutSeconds: 10,
};

/** Managed Service for Prometheus's instant-query URL for a project (location global). */
export function managedPrometheusQueryUrl(project: string): string {
    return `https://monitoring.googleapis.com/v1/projects/${encodeURIComponent(project)}/location/global/prometheus/api/v1/query`;
}

/** A PromQL range: a whole number and one unit (what Prometheus reads in `[...]`), e.g. `5m`, `90s`, `1h`. */
const PROMQL_RANGE = /^(\d+)(ms|s|m|h|d|w|y)$/;

/** Seconds of a PromQL range such as `5m`, or undefined when it is not one. */
export function windowSeconds(window: string): number | undefined {
    const m = PROMQL_RANGE.exec(window);
    if (!m) return undefined;
    const unit = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 }[m[2] as "s"];
    return Number(m[1]) * unit;
}

/** Checks the gate's settings; problems are named by argument (`healthGate.window`, ...). */
export function checkHealthGatePolicy(setting: string, policy: HealthGatePolicy): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    const at = (name: string) => `${setting}.${name}`;
    if (!(HEALTH_GATE_MODES as readonly unknown[]).includes(policy.mode)) {
        problems.push({ setting: at("mode"), message: `got ${describe(policy.mode)}; allowed values: ${HEALTH_GATE_MODES.join(", ")}` });
    }
    const seconds = typeof policy.window === "string" ? windowSeconds(policy.window) : undefined;
    const windowAllowed = `allowed values: a PromQL range of one unit from ${MIN_GATE_WINDOW_SECONDS / 60}m to 24h, e.g. 5m or 10m ` +
        `(at least two ${GATE_SCRAPE_INTERVAL_SECONDS}s scrape intervals plus ${GATE_INGESTION_DELAY_SECONDS}s of ingestion delay)`;
    if (seconds === undefined) problems.push({ setting: at("window"), message: `got ${describe(policy.window)}; ${windowAllowed}` });
    else if (seconds < MIN_GATE_WINDOW_SECONDS) problems.push({ setting: at("window"), message: `got ${describe(policy.window)}, too short to hold two samples that can be queried; ${windowAllowed}` });
    else if (seconds > MAX_GATE_WINDOW_SECONDS) problems.push({ setting: at("window"), message: `got ${describe(policy.window)}; ${windowAllowed}` });
    if (!Number.isSafeInteger(policy.minRequests) || policy.minRequests < 0 || policy.minRequests > 1_000_000_000) {
        problems.push({ setting: at("minRequests"), message: `got ${describe(policy.minRequests)}; allowed values: a whole number from 0 to 1000000000` });
    }
    if (typeof policy.minSuccessRate !== "number" || !(policy.minSuccessRate >= 0 && policy.minSuccessRate <= 1)) {
        problems.push({ setting: at("minSuccessRate"), message: `got ${describe(policy.minSuccessRate)}; allowed values: a fraction from 0 to 1, e.g. 0.99 for 99%` });
    }
    if (typeof policy.maxP99Ms !== "number" || !(policy.maxP99Ms > 0 && policy.maxP99Ms <= 3_600_000)) {
        problems.push({ setting: at("maxP99Ms"), message: `got ${describe(policy.maxP99Ms)}; allowed values: milliseconds above 0, at most 3600000 (an hour)` });
    }
    if (typeof policy.requireData !== "boolean") problems.push({ setting: at("requireData"), message: `got ${describe(policy.requireData)}; allowed values: true, false` });
    if (!Number.isSafeInteger(policy.queryTimeoutSeconds) || policy.queryTimeoutSeconds < 1 || policy.queryTimeoutSeconds > 120) {
        problems.push({ setting: at("queryTimeoutSeconds"), message: `got ${describe(policy.queryTimeoutSeconds)}; allowed values: a whole number of seconds from 1 to 120` });
    }
    if (policy.queryUrl !== undefined) problems.push(...checkQueryUrl(at("queryUrl"), policy.queryUrl));
    (Array.isArray(policy.checks) ? policy.checks : []).forEach((check, i) => problems.push(...checkHealthCheck(`${at("checks")}[${i}]`, check)));
    const names = (policy.checks ?? []).map((c) => c?.name);
    names.forEach((name, i) => {
        if (names.indexOf(name) !== i) problems.push({ setting: `${at("checks")}[${i}]`, message: `repeats the name ${describe(name)}; allowed values: a name of its own per check` });
    });
    return problems;
}

/** Checks a Prometheus instant-query URL: http(s), a host, `/api/v1/query` at the end of the path, no credentials. */
export function checkQueryUrl(setting: string, value: unknown): ConfigProblem[] {
    const allowed = "allowed values: a Prometheus-compatible instant-query URL ending in /api/v1/query, e.g. " +
        "https://monitoring.googleapis.com/v1/projects/PROJECT/location/global/prometheus/api/v1/query or http://127.0.0.1:9090/api/v1/query";
    if (typeof value !== "string") return [{ setting, message: `got ${describe(value)}; ${allowed}` }];
    if (urlHasUserInfo(value)) return [{ setting, message: `holds credentials before the host (the value is not shown); ${allowed}, without user or password (Google endpoints use Application Default Credentials)` }];
    const url = parseUrl(value);
    if (!url || (url.scheme !== "https" && url.scheme !== "http") || !url.path.endsWith("/api/v1/query") || url.query !== undefined) {
        return [{ setting, message: `got ${describe(value)}; ${allowed}` }];
    }
    return [];
}

/** Checks one extra check: a name, a query using only known placeholders, and at least one bound. */
export function checkHealthCheck(setting: string, check: HealthCheck): ConfigProblem[] {
    const allowed = `allowed values: {"name": "...", "query": "<PromQL returning one number>", "min": <number>, "max": <number>} with at least one bound; ` +
        `placeholders ${CHECK_PLACEHOLDERS.join(" ")}`;
    if (!check || typeof check !== "object") return [{ setting, message: `got ${describe(check)}; ${allowed}` }];
    const problems: ConfigProblem[] = [];
    if (typeof check.name !== "string" || !/^[A-Za-z0-9][A-Za-z0-9 _.-]{0,62}$/.test(check.name)) {
        problems.push({ setting, message: `has the name ${describe(check.name)}; allowed values: letters, digits, space, _ . - (at most 63)` });
    }
    if (typeof check.query !== "string" || check.query.trim() === "") problems.push({ setting, message: `has the query ${describe(check.query)}; ${allowed}` });
    else {
        const unknown = [...check.query.matchAll(/\{\{[^}]*\}\}/g)].map((m) => m[0]).filter((p) => !CHECK_PLACEHOLDERS.includes(p));
        if (unknown.length > 0) problems.push({ setting, message: `uses the unknown placeholder ${unknown[0]}; ${allowed}` });
    }
    const bound = (b: unknown) => b === undefined || (typeof b === "number" && Number.isFinite(b));
    if (!bound(check.min) || !bound(check.max) || (check.min === undefined && check.max === undefined)) {
        problems.push({ setting, message: `has bounds min ${describe(check.min)}, max ${describe(check.max)}; ${allowed}` });
    } else if (check.min !== undefined && check.max !== undefined && check.min > check.max) {
        problems.push({ setting, message: `has min ${check.min} above max ${check.max}; ${allowed}` });
    }
    return problems;
}

/**
 * Parses a check written in one line, as the stack config takes it: `<name>: <PromQL> <= <number>`
 * or `<name>: <PromQL> >= <number>`.
 */
export function parseHealthCheck(setting: string, entry: string): { check?: HealthCheck; problems: ConfigProblem[] } {
    const m = /^\s*([^:]+?)\s*:\s*(.+?)\s*(<=|>=)\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*$/s.exec(entry);
    if (!m) {
        return {
            problems: [{ setting, message: `got ${describe(entry)}; allowed values: "<name>: <PromQL> <= <number>" or "<name>: <PromQL> >= <number>", ` +
                `e.g. "upstream 5xx: sum(increase(istio_requests_total{destination_workload=\"{{workload}}\",response_code=\"503\"}[{{window}}])) <= 0"` }],
        };
    }
    const bound = Number(m[4]);
    const check: HealthCheck = { name: m[1], query: m[2], ...(m[3] === "<=" ? { max: bound } : { min: bound }) };
    return { check, problems: checkHealthCheck(setting, check) };
}

/** What one query answered. */
export type Measurement =
    /** One number (NaN when Prometheus computed one from nothing, e.g. 0/0). */
    | { kind: "value"; value: number }
    /** No series: nothing was recorded for the color in the window. */
    | { kind: "empty" }
    /** No answer: HTTP error, auth error, timeout, a malformed or multi-series result. */
    | { kind: "error"; message: string };

/** The bounds of one measured quantity and how to show it. */
export interface MeasuredCheck {
    /** Name shown in the verdict (`requests`, `success rate`, `p99 latency`, a user check's name). */
    name: string;
    /** The PromQL sent. */
    query: string;
    /** The lowest value allowed. */
    min?: number;
    /** The highest value allowed. */
    max?: number;
    /** How values print: a count, a percentage (0..1), milliseconds, or as is. */
    unit: "count" | "ratio" | "ms" | "plain";
    /** True for the request count: below its minimum means "not enough data", not "failing". */
    isVolume?: boolean;
    /** The answer. */
    result: Measurement;
}

/** How one check came out. */
export type CheckOutcome = "ok" | "fails" | "no data" | "error";

/** The outcome of one check on its own. */
export function checkOutcome(check: MeasuredCheck): CheckOutcome {
    if (check.result.kind === "error") return "error";
    if (check.result.kind === "empty" || Number.isNaN(check.result.value)) return "no data";
    const v = check.result.value;
    const out = (check.min !== undefined && v < check.min) || (check.max !== undefined && v > check.max);
    if (!out) return "ok";
    return check.isVolume ? "no data" : "fails";
}

/** What the gate decides for one color. */
export const GateDecision = {
    /** The color may get the traffic. */
    Pass: "pass",
    /** It may, but the user is told why it was not judged or what is out of bounds (warn mode, or no data allowed). */
    PassWithWarning: "pass-with-warning",
    /** The change is refused (enforce). */
    Refuse: "refuse",
} as const;
/** What the gate decides for one color. */
export type GateDecision = (typeof GateDecision)[keyof typeof GateDecision];

/** Where the update stands when the gate judges a color. */
export interface GateContext {
    /** The app. */
    app: string;
    /** The workload namespace. */
    namespace: string;
    /** The color that gains traffic. */
    color: Color;
    /** How it gains, in words (from colorsGainingTraffic). */
    gains: string[];
    /** The gate's settings. */
    policy: HealthGatePolicy;
    /** The color returns to pods that served until the last switch (detectRollback), with why. */
    rollback: { rollback: boolean; reason: string };
    /** The VirtualService is being created (a new stack, or a replacement): there is no previous route to keep. */
    creating: boolean;
    /** A preview (`pulumi preview`): the verdict is shown, the update decides. */
    preview: boolean;
    /** What can give the color data, for the message (see dataSourceAdvice). */
    dataSources: string[];
    /** The color that keeps its traffic when the change is refused. */
    keptColor?: Color;
}

/** The verdict for one color: the decision, why, and the message to show. */
export interface GateVerdict {
    decision: GateDecision;
    /** Why, in one short phrase (`green fails success rate`, `no data for green`, ...). */
    summary: string;
    /** The full message (the refusal or the warning), empty when it simply passes. */
    message: string;
}

function formatValue(value: number, unit: MeasuredCheck["unit"]): string {
    if (Number.isNaN(value)) return "NaN (no requests)";
    if (unit === "ratio") return `${(value * 100).toFixed(2).replace(/\.?0+$/, "")}%`;
    if (unit === "ms") return `${Math.round(value * 10) / 10} ms`;
    if (unit === "count") return `${Math.round(value)}`;
    return `${value}`;
}

function formatBound(check: MeasuredCheck): string {
    const parts = [
        ...(check.min !== undefined ? [`at least ${formatValue(check.min, check.unit)}`] : []),
        ...(check.max !== undefined ? [`at most ${formatValue(check.max, check.unit)}`] : []),
    ];
    return parts.join(" and ");
}

function checkLine(check: MeasuredCheck, outcome: CheckOutcome): string {
    const measured = check.result.kind === "value" ? formatValue(check.result.value, check.unit)
        : check.result.kind === "empty" ? "no series" : `query failed: ${check.result.message}`;
    const note = outcome === "ok" ? "ok" : outcome === "fails" ? "OUT OF BOUNDS" : outcome === "error" ? "UNKNOWN"
        : check.isVolume ? "too few to judge" : check.result.kind === "value" && !Number.isNaN(check.result.value) ? "not judged (too few requests)" : "no data";
    return `  - ${check.name}: ${measured} (bound: ${formatBound(check)}) — ${note}`;
}

/**
 * The verdict for one color from its measured checks. A measured failure is refused in enforce
 * (a rollback and a new VirtualService included: they would send traffic to pods failing now). No
 * data (too few requests, no series) passes with a warning unless requireData; a rollback passes
 * without data whatever requireData says, and a new VirtualService (a new stack) silently. A query
 * that got no answer (HTTP, auth, timeout) fails closed in enforce, except for a rollback (it must
 * never wait for a monitoring outage) and a new VirtualService (there is no route to keep); in a
 * preview it only warns (the preview's identity may lack the read role; the update decides).
 */
export function gateVerdict(context: GateContext, checks: MeasuredCheck[]): GateVerdict {
    const { policy, color } = context;
    // Below the minimum volume the other values rest on a handful of requests: shown, not judged.
    const tooFew = checks.some((c) => c.isVolume && checkOutcome(c) === "no data");
    const outcomes = checks.map((c): CheckOutcome => (tooFew && !c.isVolume && checkOutcome(c) === "fails" ? "no data" : checkOutcome(c)));
    const failing = checks.filter((_, i) => outcomes[i] === "fails");
    const unknown = checks.filter((_, i) => outcomes[i] === "error");
    const noData = outcomes.includes("no data");
    const enforce = policy.mode === HealthGateMode.Enforce;
    let decision: GateDecision;
    let summary: string;
    if (failing.length > 0) {
        summary = `${color} is out of bounds on ${failing.map((c) => c.name).join(", ")}`;
        decision = enforce ? GateDecision.Refuse : GateDecision.PassWithWarning;
    } else if (unknown.length > 0) {
        summary = `${color} could not be measured (${unknown.map((c) => c.name).join(", ")}: the query got no answer)`;
        decision = enforce && !context.rollback.rollback && !context.preview && !context.creating ? GateDecision.Refuse : GateDecision.PassWithWarning;
    } else if (noData) {
        summary = `not enough data for ${color} in the last ${policy.window}`;
        // A new VirtualService (a new stack) has no traffic anywhere yet: nothing to say.
        if (context.creating) return { decision: GateDecision.Pass, summary, message: "" };
        decision = enforce && policy.requireData && !context.rollback.rollback ? GateDecision.Refuse : GateDecision.PassWithWarning;
    } else {
        return { decision: GateDecision.Pass, summary: `${color} is within bounds over the last ${policy.window}`, message: "" };
    }
    return { decision, summary, message: gateMessage(context, checks, outcomes, decision, summary, { failing: failing.length > 0, unknown: unknown.length > 0 }) };
}

function gateMessage(context: GateContext, checks: MeasuredCheck[], outcomes: CheckOutcome[], decision: GateDecision, summary: string,
    found: { failing: boolean; unknown: boolean }): string {
    const { policy, color } = context;
    const refused = decision === GateDecision.Refuse;
    const head = refused
        ? `health gate (${policy.mode}): refused to give ${color} more traffic: ${summary}.`
        : `health gate (${policy.mode}): ${color} gets more traffic although ${summary}.`;
    const lines = [
        context.preview ? `[preview: the update will decide the same way] ${head}` : head,
        `  ${color} gains: ${context.gains.join("; ")}.`,
        `  Measured for workload ${colorWorkload(context.app, color)} in namespace ${context.namespace} over the last ${policy.window}:`,
        ...checks.map((c, i) => checkLine(c, outcomes[i])),
    ];
    if (context.rollback.rollback) lines.push(`  Rollback: ${context.rollback.reason}; no data is needed for it.`);
    else if (context.creating) lines.push("  The VirtualService is new (a new stack or a replacement): there is no route to keep.");
    if (!refused && context.rollback.rollback && !found.failing && !found.unknown) return lines.join("\n");
    if (refused) {
        lines.push(`  Nothing was changed: the VirtualService keeps its routes${context.keptColor ? ` and ${context.keptColor} keeps its traffic` : ""}.`);
    }
    lines.push("  What to do:");
    if (found.failing) {
        lines.push(`  - fix ${color} (its image or settings), wait one window (${policy.window}) with traffic on it, and run pulumi up again;`);
    } else if (found.unknown) {
        lines.push(`  - make the query endpoint answer: ${policy.queryUrl ?? "(no healthGateQueryUrl)"} (Google endpoints: Application Default Credentials with roles/monitoring.viewer on the project; ` +
            `gcloud auth application-default login, or the CI's workload identity), then run pulumi up again;`);
    } else {
        lines.push(...context.dataSources.map((s) => `  - ${s};`));
        lines.push(`  - then wait until the last ${policy.window} hold at least ${policy.minRequests} requests to ${color} and run pulumi up again;`);
    }
    lines.push(`  - or, knowingly, let this update through: pulumi config set healthGate warn, pulumi up, then pulumi config set healthGate enforce ` +
        "(on a stack deployed from git, commit that change: the deploy job runs pulumi up with the committed config).");
    if (!refused && !found.failing && !found.unknown && !policy.requireData) {
        lines.push("  (Without data the gate lets a switch through; healthGateRequireData true refuses it instead.)");
    }
    return lines.join("\n");
}

/** What the workload offers to get requests to a color without giving it ordinary traffic. */
export interface DataSourceFacts {
    /** The color header. */
    headerName: string;
    /** Percent of ordinary traffic mirrored to the idle color now. */
    mirrorToIdle: number;
    /** The color the mirror copies go to (the idle color). */
    mirrorColor: Color;
    /** Names of targeted routes that send requests to the color. */
    targetedRoutesToColor: string[];
    /** Who may use the color header: `anyone`, `from <cidrs>`, `with a token from <issuer>`, or undefined when nobody may. */
    headerTesters?: string;
}

/** The ways of getting data for a color that apply to this workload, in words, most useful first. */
export function dataSourceAdvice(color: Color, facts: DataSourceFacts): string[] {
    const advice: string[] = [];
    if (facts.mirrorColor === color) {
        advice.push(facts.mirrorToIdle > 0
            ? `mirrorToIdle already shadows ${facts.mirrorToIdle}% of ordinary traffic to ${color}: wait until it has sent enough, or raise it`
            : `shadow ordinary traffic to ${color} with mirrorToIdle (e.g. pulumi config set mirrorToIdle 10; responses are discarded, side effects are not: mirror read-only traffic)`);
    }
    advice.push(facts.targetedRoutesToColor.length > 0
        ? `have the users of targetedRoutes ${facts.targetedRoutesToColor.join(", ")} (sent to ${color}) use it`
        : `send internal users to ${color} with targetedRoutes (e.g. ${color}:header:x-internal-user=true)`);
    advice.push(facts.headerTesters !== undefined
        ? `have testers call with the header ${facts.headerName}: ${color} (allowed ${facts.headerTesters})`
        : `allow testers the header ${facts.headerName}: ${color} (previewSourceCidrs or previewJwtIssuer; today nobody may use it)`);
    return advice;
}

/** The checks the gate runs for one color, not yet measured: volume, success rate, p99, then the user's own. */
export function gateChecks(policy: HealthGatePolicy, target: HealthQueryTarget): Omit<MeasuredCheck, "result">[] {
    return [
        { name: "requests", query: requestCountQuery(target), min: policy.minRequests, unit: "count", isVolume: true },
        { name: "success rate", query: successRateQuery(target), min: policy.minSuccessRate, unit: "ratio" },
        { name: "p99 latency", query: latencyQuantileQuery(target, 0.99), max: policy.maxP99Ms, unit: "ms" },
        ...policy.checks.map((c) => ({ name: c.name, query: expandCheckQuery(c.query, target), min: c.min, max: c.max, unit: "plain" as const })),
    ];
}
