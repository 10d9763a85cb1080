// The health gate's wiring: the record the VirtualService carries (the gate's settings, so the hook
// reads what the program declared), and the resource hook that, before the VirtualService gives a
// color more traffic, queries that color's health and refuses or warns. The decisions live in
// traffic-gain.ts and health-verdict.ts; the HTTP in prometheus-client.ts.
import * as pulumi from "@pulumi/pulumi";
import {
    GateDecision,
    GateVerdict,
    HEALTH_GATE_DEFAULTS,
    HealthCheck,
    HealthGateMode,
    HealthGatePolicy,
    MeasuredCheck,
    Measurement,
    dataSourceAdvice,
    gateChecks,
    gateVerdict,
} from "./health-verdict";
import { monitorSupports } from "./hooks";
import { applicationDefaultCredentials, instantQuery, isGoogleEndpoint } from "./prometheus-client";
import { COLORS, Color, VirtualServiceSpec, otherColor } from "./routing";
import { annotationsOf, catchAllRoute, catchAllShares, colorsGainingTraffic, detectRollback, isColorHeaderRoute } from "./traffic-gain";

/** The health gate's settings as a component takes them; every field has a default. */
export interface HealthGateArgs {
    /** enforce (default): refuse a color out of bounds; warn: let it through with a warning; off: no gate. */
    mode?: HealthGateMode;
    /**
     * Prometheus instant-query URL (ending in /api/v1/query). Default on a cluster built here: Managed
     * Prometheus's query API for the cluster's project, with Application Default Credentials. Unset on
     * an existing cluster: no gate (nothing to query).
     */
    queryUrl?: string;
    /** PromQL range the checks look back over. Default 5m; at least 2m (two 30s scrape intervals plus 60s of ingestion delay). */
    window?: string;
    /** Fewer requests than this in the window is not enough data to judge. Default 20. */
    minRequests?: number;
    /** Lowest share (0 to 1) of responses that are not 5xx. Default 0.99. */
    minSuccessRate?: number;
    /** Highest p99 request duration in milliseconds. Default 1000. */
    maxP99Ms?: number;
    /** Refuse a color without data (production-grade strictness) instead of letting it through with a warning. Default false. */
    requireData?: boolean;
    /** Extra PromQL checks with bounds; queries may use {{namespace}}, {{workload}}, {{app}}, {{color}}, {{window}}. */
    checks?: HealthCheck[];
    /** Seconds each query may take before it counts as unanswered. Default 10. */
    queryTimeoutSeconds?: number;
}

/** The gate's settings with every default applied. */
export function resolveHealthGate(args: HealthGateArgs | undefined): HealthGatePolicy {
    const d = HEALTH_GATE_DEFAULTS;
    return {
        mode: args?.mode ?? d.mode,
        ...(args?.queryUrl !== undefined ? { queryUrl: args.queryUrl } : {}),
        window: args?.window ?? d.window,
        minRequests: args?.minRequests ?? d.minRequests,
        minSuccessRate: args?.minSuccessRate ?? d.minSuccessRate,
        maxP99Ms: args?.maxP99Ms ?? d.maxP99Ms,
        requireData: args?.requireData ?? d.requireData,
        checks: args?.checks ?? [],
        queryTimeoutSeconds: args?.queryTimeoutSeconds ?? d.queryTimeoutSeconds,
    };
}

/** Whether the gate has something to do: a mode other than off, and an endpoint to ask. */
export function gateActive(policy: HealthGatePolicy): boolean {
    return policy.mode !== HealthGateMode.Off && policy.queryUrl !== undefined;
}

/** The VirtualService annotation holding the gate's record: its settings and who may test a color. */
export const HEALTH_GATE_ANNOTATION = "gke-istio-bluegreen.dev/health-gate";

/** What the VirtualService records for the gate: the settings it ran with, and facts for its advice. */
export interface HealthGateRecord {
    /** The app. */
    app: string;
    /** The workload namespace. */
    namespace: string;
    /** The gate's settings. */
    policy: HealthGatePolicy;
    /** Who may call a color with its header: `anyone`, `from <cidrs>`, `with a token from <issuer>`; absent: nobody. */
    headerTesters?: string;
}

/** The annotation value: the record as JSON (settings only, never a credential: URLs with credentials are refused). */
export function healthGateAnnotation(record: HealthGateRecord): string {
    return JSON.stringify(record);
}

/** The record from a VirtualService's inputs, as a hook receives them; undefined when absent or unreadable. */
export function readHealthGateRecord(inputs: Record<string, any> | undefined): HealthGateRecord | undefined {
    const raw = annotationsOf(inputs)[HEALTH_GATE_ANNOTATION];
    if (typeof raw !== "string") return undefined;
    try {
        const record = JSON.parse(raw);
        return record && typeof record === "object" && record.policy ? record : undefined;
    } catch {
        return undefined;
    }
}

/** Runs one PromQL query for the gate. */
export type GateQuery = (query: string, policy: HealthGatePolicy) => Promise<Measurement>;

/** What a hook run decided, per color that gains traffic. */
export interface GateRun {
    /** One verdict per color that gains traffic (none: nothing gains, no query ran). */
    verdicts: (GateVerdict & { color: Color })[];
}

/** The part of Pulumi's hook arguments the gate reads. */
export interface GateHookArgs {
    /** The inputs the VirtualService had (absent when it is being created). */
    oldInputs?: Record<string, any>;
    /** The inputs it is getting. */
    newInputs?: Record<string, any>;
}

/**
 * The gate for one VirtualService change: every color that gains traffic is measured (its checks
 * in parallel) and judged. Throws the refusals (so the hook fails the step and the VirtualService
 * is left as it was); warnings go to `warn`.
 */
export async function runHealthGate(args: GateHookArgs, options: { query: GateQuery; warn: (message: string) => void; preview: boolean }): Promise<GateRun> {
    const record = readHealthGateRecord(args.newInputs);
    const next = args.newInputs?.spec as VirtualServiceSpec | undefined;
    if (!record || !next || !Array.isArray(next.http)) return { verdicts: [] };
    const { policy } = record;
    if (policy.mode === HealthGateMode.Off) return { verdicts: [] };
    const previous = args.oldInputs?.spec as VirtualServiceSpec | undefined;
    const creating = args.oldInputs === undefined;
    const previousShares = previous ? catchAllShares(previous) : undefined;
    const kept = previousShares ? COLORS.filter((c) => previousShares[c] > 0) : [];
    const gains = colorsGainingTraffic(previous, next);
    const verdicts = await Promise.all(gains.map(async (gain) => {
        const target = { namespace: record.namespace, app: record.app, color: gain.color, window: policy.window };
        const checks: MeasuredCheck[] = await Promise.all(gateChecks(policy, target).map(async (c) => ({ ...c, result: await options.query(c.query, policy) })));
        const verdict = gateVerdict({
            app: record.app, namespace: record.namespace, color: gain.color, gains: gain.reasons, policy,
            rollback: detectRollback(gain.color, args.oldInputs, args.newInputs), creating, preview: options.preview,
            // Data comes from what routed requests before this change (the mirror copied to the then idle color).
            dataSources: dataSourceAdvice(gain.color, dataSourceFacts(previous ?? next, gain.color, record)),
            keptColor: kept.find((c) => c !== gain.color),
        }, checks);
        return { ...verdict, color: gain.color };
    }));
    for (const v of verdicts) if (v.decision === GateDecision.PassWithWarning) options.warn(v.message);
    const refused = verdicts.filter((v) => v.decision === GateDecision.Refuse);
    if (refused.length > 0) throw new Error(refused.map((v) => v.message).join("\n\n"));
    return { verdicts };
}

/** The facts of a spec that say how a color can get data: its mirror, the targeted routes to it, the header. */
function dataSourceFacts(spec: VirtualServiceSpec, color: Color, record: HealthGateRecord) {
    const catchAll = catchAllRoute(spec);
    const mirror = catchAll?.mirrors?.[0];
    const header = spec.http.find(isColorHeaderRoute)?.match?.[0]?.headers;
    const shares = catchAllShares(spec);
    return {
        headerName: header ? Object.keys(header)[0] : "the color header",
        mirrorToIdle: mirror?.percentage.value ?? 0,
        mirrorColor: (mirror?.destination.subset as Color | undefined) ?? otherColor(shares.blue >= shares.green ? "blue" : "green"),
        targetedRoutesToColor: spec.http.filter((r) => r.match && r.match.length > 0 && !isColorHeaderRoute(r) && r.route.some((d) => d.destination.subset === color))
            .map((r) => r.name),
        headerTesters: record.headerTesters,
    };
}

/** The gate's query against the policy's endpoint: Application Default Credentials for Google's, none otherwise. */
export function endpointQuery(): GateQuery {
    const googleCredentials = applicationDefaultCredentials();
    return (query, policy) => instantQuery(query, {
        url: policy.queryUrl!,
        timeoutMs: policy.queryTimeoutSeconds * 1000,
        ...(isGoogleEndpoint(policy.queryUrl!) ? { authorization: googleCredentials } : {}),
    });
}

/**
 * The hooks that gate a VirtualService: one named hook, before an update and before a create (a
 * replaced VirtualService is created anew), run in previews too so a preview shows the verdict.
 * Undefined when the gate has nothing to do or the monitor cannot register hooks.
 */
export function healthGateHooks(name: string, policy: HealthGatePolicy): pulumi.ResourceHookBinding | undefined {
    if (!gateActive(policy) || !monitorSupports("registerResourceHook")) return undefined;
    const query = endpointQuery();
    const hook = new pulumi.ResourceHook(`${name}-health-gate`, async (args) => {
        await runHealthGate(args, { query, warn: (m) => pulumi.log.warn(m), preview: pulumi.runtime.isDryRun() });
    }, { onDryRun: true });
    return { beforeCreate: [hook], beforeUpdate: [hook] };
}
