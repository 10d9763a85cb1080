// Which colors a VirtualService change gives more traffic, and whether giving it back to a color is
// a rollback. Pure: the health gate's hook calls these with the old and new inputs the engine hands
// it; tests call them directly.
import { createHash } from "node:crypto";
import { COLORS, Color, HttpRoute, VirtualServiceSpec, describeRouting } from "./routing";

/** One way a color gets more requests than before. */
export interface TrafficGain {
    /** The color that gains. */
    color: Color;
    /** What changed, in words (`catch-all share 0% -> 100%`, `route "internal" (header x-internal-user = "true"): 0% -> 100%`). */
    reasons: string[];
}

/**
 * Whether a route is one of the color-header routes (`<header>-<color>`, matching the header's exact
 * value `<color>`, all to that color). Those only carry testers the preview policy allows, never
 * ordinary traffic, so they are not what the gate guards.
 */
export function isColorHeaderRoute(route: HttpRoute): boolean {
    const only = route.route.length === 1 ? route.route[0].destination.subset : undefined;
    if (only === undefined || !(COLORS as readonly string[]).includes(only) || route.match?.length !== 1) return false;
    const match = route.match[0];
    const headers = Object.entries(match.headers ?? {});
    return match.sourceLabels === undefined && headers.length === 1 && headers[0][1].exact === only && route.name === `${headers[0][0]}-${only}`;
}

/** Percent of a route's requests that go to `color`. */
function shareOf(route: HttpRoute, color: Color): number {
    return route.route.filter((d) => d.destination.subset === color).reduce((sum, d) => sum + d.weight, 0);
}

/**
 * Whether the requests reaching route `i` of `after` may include some that did not reach route `j`
 * of `before`: its own conditions changed, or a route ahead of it was removed or changed (a route
 * added ahead only takes requests away).
 */
function reachWidened(before: HttpRoute[], j: number, after: HttpRoute[], i: number): boolean {
    const key = (r: HttpRoute) => JSON.stringify([r.name, r.match ?? []]);
    const ahead = new Set(after.slice(0, i).map(key));
    return key(before[j]) !== key(after[i]) || before.slice(0, j).some((r) => !ahead.has(key(r)));
}

/**
 * The colors that get more requests under `next` than under `previous` (no previous: a new
 * VirtualService, every color it routes to gains). A color gains when an ordinary route (the
 * catch-all, a weighted split, a targeted route) sends it a larger share, or sends it anything while
 * the requests reaching that route may include new ones (its conditions changed, or a route before
 * it was removed or changed). Header routes are left out (see {@link isColorHeaderRoute}); mirrors too: their
 * responses are discarded, which is what makes them a safe source of data.
 */
export function colorsGainingTraffic(previous: VirtualServiceSpec | undefined, next: VirtualServiceSpec): TrafficGain[] {
    const ordinary = (spec: VirtualServiceSpec) => spec.http.filter((r) => !isColorHeaderRoute(r));
    const before = previous ? ordinary(previous) : [];
    const after = ordinary(next);
    const words = new Map(describeRouting({ ...next, http: after }).map((row, i) => [after[i].name, row.when]));
    const gains = new Map<Color, string[]>();
    after.forEach((route, i) => {
        const j = before.findIndex((r) => r.name === route.name);
        const sameReach = j >= 0 && !reachWidened(before, j, after, i);
        const catchAll = isUnconditional(route);
        for (const color of COLORS) {
            const now = shareOf(route, color);
            const was = j >= 0 ? shareOf(before[j], color) : 0;
            if (now === 0 || (sameReach && now <= was)) continue;
            const what = catchAll ? "catch-all share" : `route "${route.name}" (${words.get(route.name)})`;
            const reason = sameReach || j < 0 ? `${what}: ${was}% -> ${now}%` : `${what}: ${now}%, now reached by different requests`;
            gains.set(color, [...(gains.get(color) ?? []), reason]);
        }
    });
    return COLORS.filter((c) => gains.has(c)).map((color) => ({ color, reasons: gains.get(color)! }));
}

/** Whether a route has no conditions: every request that reaches it matches. */
function isUnconditional(route: HttpRoute): boolean {
    return route.match === undefined || route.match.length === 0;
}

/** The catch-all: the last route without conditions. */
export function catchAllRoute(spec: VirtualServiceSpec): HttpRoute | undefined {
    return [...spec.http].reverse().find(isUnconditional);
}

/** Percent of the catch-all each color gets. */
export function catchAllShares(spec: VirtualServiceSpec): Record<Color, number> {
    const catchAll = catchAllRoute(spec);
    return { blue: catchAll ? shareOf(catchAll, "blue") : 0, green: catchAll ? shareOf(catchAll, "green") : 0 };
}

/**
 * Annotation recording, for one color, the hash of its pod template while it last served (had a
 * catch-all share). The program writes it while the color serves and keeps the recorded value
 * (ignoreChanges) while it is idle, so it still names the pods that served until the last switch.
 */
export function servedTemplateAnnotation(color: Color): string {
    return `gke-istio-bluegreen.dev/served-template-${color}`;
}

/** The ignoreChanges path of {@link servedTemplateAnnotation} on a Kubernetes object's inputs. */
export function servedTemplateIgnorePath(color: Color): string {
    return `metadata.annotations["${servedTemplateAnnotation(color)}"]`;
}

/** A short, stable hash of a pod template (keys sorted, so field order never changes it). */
export function podTemplateHash(template: unknown): string {
    const canonical = (value: unknown): unknown => {
        if (Array.isArray(value)) return value.map(canonical);
        if (value && typeof value === "object") {
            return Object.fromEntries(Object.keys(value).sort().filter((k) => (value as Record<string, unknown>)[k] !== undefined)
                .map((k) => [k, canonical((value as Record<string, unknown>)[k])]));
        }
        return value;
    };
    return createHash("sha256").update(JSON.stringify(canonical(template))).digest("hex").slice(0, 16);
}

/** The rollback record on the VirtualService: the served-template annotations of the colors that serve now. */
export function servedTemplateAnnotations<T>(shares: Record<Color, number>, templateHashes: Record<Color, T>): Record<string, T> {
    return Object.fromEntries(COLORS.filter((c) => shares[c] > 0).map((c) => [servedTemplateAnnotation(c), templateHashes[c]]));
}

/** The colors whose recorded hash the engine must keep: those that serve nothing now. */
export function keptServedTemplatePaths(shares: Record<Color, number>): string[] {
    return COLORS.filter((c) => !(shares[c] > 0)).map(servedTemplateIgnorePath);
}

/** Annotations of a VirtualService's inputs, as the hook receives them (untyped). */
export function annotationsOf(inputs: Record<string, any> | undefined): Record<string, unknown> {
    const annotations = inputs?.metadata?.annotations;
    return annotations && typeof annotations === "object" ? annotations : {};
}

/** Whether a traffic gain returns traffic to a color unchanged since it last served, and why (or why not). */
export interface RollbackCheck {
    /** True: the color served until the last switch with the very pod template it has now. */
    rollback: boolean;
    /** Why, in words, for the gate's message. */
    reason: string;
}

/**
 * Whether giving `color` traffic is a rollback: the old inputs record the hash of the pod template
 * it served with (kept while it was idle) and the new inputs record the same hash, so the pods it
 * returns to are the ones that served. A color that never served, or whose template changed since
 * (even in this same update), is not a rollback.
 */
export function detectRollback(color: Color, oldInputs: Record<string, any> | undefined, newInputs: Record<string, any> | undefined): RollbackCheck {
    const key = servedTemplateAnnotation(color);
    const was = annotationsOf(oldInputs)[key];
    const now = annotationsOf(newInputs)[key];
    if (typeof was !== "string" || was === "") return { rollback: false, reason: `${color} has not served through this VirtualService before` };
    if (typeof now !== "string" || was !== now) {
        return { rollback: false, reason: `${color}'s pod template changed since it last served (recorded ${was}, now ${typeof now === "string" ? now : "unknown"})` };
    }
    return { rollback: true, reason: `${color} served until the last switch with the same pod template (${was})` };
}
