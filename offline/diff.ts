// Compares two evaluations of the program resource by resource, field by field, the way
// `pulumi preview --diff` reports an update: resources are identified by URN, changes by input path.
import { DeclaredResource, providerUrn } from "./engine";
import { REPLACE_CAVEAT, replacementPaths, underPath } from "./lifecycle";
import { describeResource } from "./manifests";

/** One changed input. */
export interface FieldChange {
    /** Dotted path with [index] for arrays, e.g. `spec.http[2].route[0].destination.subset`. */
    path: string;
    before: unknown;
    after: unknown;
}

/** The difference between two evaluations. */
export interface Plan {
    creates: DeclaredResource[];
    deletes: DeclaredResource[];
    updates: { resource: DeclaredResource; changes: FieldChange[]; replaces: string[] }[];
    unchanged: number;
    /**
     * Creates and updates grouped by the order the engine reaches them: a step starts only when
     * every resource it depends on (directly, or through unchanged ones) has finished, so level
     * N+1 waits for level N and the steps of one level run in parallel. Deletes come after all.
     */
    levels: PlannedStep[][];
}

/** One create or update, with what it waits for on the cluster. */
export interface PlannedStep {
    op: "create" | "update";
    resource: DeclaredResource;
    changes: FieldChange[];
    /** Changed paths this package knows force a replacement (see lifecycle.ts). */
    replaces?: string[];
    /** What the step's await means for traffic, e.g. `waits until ready`. */
    note?: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
    return v !== null && typeof v === "object";
}

/** Every leaf that differs between two values. */
export function diffValues(before: unknown, after: unknown, path = ""): FieldChange[] {
    if (isObject(before) && isObject(after) && Array.isArray(before) === Array.isArray(after)) {
        const keys = Array.isArray(before) && Array.isArray(after)
            ? [...Array(Math.max(before.length, after.length)).keys()].map(String)
            : [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
        return keys.flatMap((k) => {
            const next = Array.isArray(before) ? `${path}[${k}]` : path ? `${path}.${k}` : k;
            return diffValues((before as any)[k], (after as any)[k], next);
        });
    }
    return JSON.stringify(before) === JSON.stringify(after) ? [] : [{ path, before, after }];
}

/**
 * A Pulumi property path (`metadata.annotations["example.com/key"]`, `a[0]`) written the way this
 * diff writes paths: quoted keys as dotted segments (`metadata.annotations.example.com/key`).
 */
export function dottedPath(propertyPath: string): string {
    return propertyPath.replace(/\["((?:[^"\\]|\\.)*)"\]/g, (_, key: string) => `.${key.replace(/\\(.)/g, "$1")}`).replace(/^\./, "");
}

/** Plans the change from `before` to `after`; inputs are compared with secrets masked. */
export function planChanges(before: DeclaredResource[], after: DeclaredResource[]): Plan {
    const old = new Map(before.map((r) => [r.urn, r]));
    const now = new Map(after.map((r) => [r.urn, r]));
    const plan: Plan = { creates: [], deletes: [], updates: [], unchanged: 0, levels: [] };
    for (const r of after) {
        const previous = old.get(r.urn);
        if (!previous) {
            plan.creates.push(r);
            continue;
        }
        // The engine keeps the old value of an ignored input, so such changes never reach the provider.
        const changes = diffValues(describeResource(previous).inputs, describeResource(r).inputs)
            .filter((c) => !r.ignoreChanges.some((ignored) => underPath(c.path, dottedPath(ignored))));
        if (changes.length > 0) plan.updates.push({ resource: r, changes, replaces: replacementPaths(r.type, changes) });
        else plan.unchanged++;
    }
    plan.deletes = before.filter((r) => !now.has(r.urn));
    plan.levels = orderSteps(after, [
        ...plan.creates.map((resource): PlannedStep => ({ op: "create", resource, changes: [], note: deploymentNote(undefined, resource) })),
        ...plan.updates.map(({ resource, changes, replaces }): PlannedStep => ({
            op: "update", resource, changes, replaces, note: deploymentNote(old.get(resource.urn), resource),
        })),
    ]);
    return plan;
}

/** URNs a resource waits for: its dependsOn and its provider. */
function waitsFor(r: DeclaredResource): string[] {
    const provider = providerUrn(r);
    return provider ? [...r.dependsOn, provider] : r.dependsOn;
}

/** Groups steps by dependency level over the whole graph (unchanged resources finish at once). */
export function orderSteps(resources: DeclaredResource[], steps: PlannedStep[]): PlannedStep[][] {
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    const changed = new Set(steps.map((s) => s.resource.urn));
    const level = new Map<string, number>();
    const levelOf = (urn: string): number => {
        const known = level.get(urn);
        if (known !== undefined) return known;
        level.set(urn, 0); // a cycle (which the engine would refuse) cannot recurse forever
        const r = byUrn.get(urn);
        const deps = r ? waitsFor(r).map(levelOf) : [];
        const own = Math.max(0, ...deps) + (changed.has(urn) ? 1 : 0);
        level.set(urn, own);
        return own;
    };
    const levels: PlannedStep[][] = [];
    for (const step of steps) (levels[levelOf(step.resource.urn) - 1] ??= []).push(step);
    return levels.filter((l) => l !== undefined);
}

/** Seconds a Deployment's pods keep serving after they are told to stop (their preStop sleep). */
function drainSeconds(deployment: DeclaredResource): number | undefined {
    const preStop = deployment.inputs.spec?.template?.spec?.containers?.[0]?.lifecycle?.preStop;
    const seconds = preStop?.sleep?.seconds ?? (preStop?.exec?.command?.[0] === "/bin/sleep" ? Number(preStop.exec.command[1]) : undefined);
    return typeof seconds === "number" && Number.isFinite(seconds) ? seconds : undefined;
}

/**
 * What a Deployment step means on the cluster: the provider awaits a rollout or scale-up until the
 * new pods are ready; pods that go away drain for their preStop sleep first.
 */
function deploymentNote(before: DeclaredResource | undefined, after: DeclaredResource): string | undefined {
    if (after.type !== "kubernetes:apps/v1:Deployment") return undefined;
    const was = before?.inputs.spec?.replicas ?? 0;
    const now = after.inputs.spec?.replicas ?? 0;
    const templateChanged = before !== undefined && JSON.stringify(before.inputs.spec?.template) !== JSON.stringify(after.inputs.spec?.template);
    const drain = drainSeconds(before ?? after);
    const notes: string[] = [];
    if (now > 0 && (now > was || templateChanged)) notes.push("waits until ready");
    if (before !== undefined && (now < was || (templateChanged && was > 0))) notes.push(drain ? `old pods drain ${drain} s` : "old pods stop at once");
    return notes.length > 0 ? notes.join("; ") : undefined;
}

/** The kind of a resource for --expect-only: the last segment of its type token (`VirtualService`). */
export function shortType(r: DeclaredResource): string {
    return r.type.split(":").pop()!.split("/").pop()!;
}

/** Resources the plan touches whose type is not `allowedType` (short or full type token). */
export function unexpectedChanges(plan: Plan, allowedType: string): DeclaredResource[] {
    const touched = [...plan.creates, ...plan.deletes, ...plan.updates.map((u) => u.resource)];
    return touched.filter((r) => r.type !== allowedType && shortType(r) !== allowedType);
}

const show = (v: unknown) => (v === undefined ? "(unset)" : JSON.stringify(v));

/** The plan as text, in the style of `pulumi preview --diff`, grouped by the order of the update. */
export function formatPlan(plan: Plan): string {
    const lines: string[] = [];
    const multiLevel = plan.levels.length > 1;
    if (multiLevel) lines.push("  (each level starts when the one before has finished; the steps of one level run in parallel)");
    plan.levels.forEach((steps, i) => {
        if (multiLevel) lines.push(`  level ${i + 1}:`);
        const indent = multiLevel ? "    " : "  ";
        for (const step of steps) {
            const replaced = (step.replaces ?? []).length > 0;
            const sign = step.op === "create" ? "+" : replaced ? "+-" : "~";
            const op = replaced ? "replace" : step.op;
            lines.push(`${indent}${sign} ${step.resource.type} ${step.resource.name} (${op}${step.note ? `; ${step.note}` : ""})`);
            for (const c of step.changes) {
                const change = c.before === undefined ? "+" : c.after === undefined ? "-" : "~";
                const forces = step.replaces?.includes(c.path) ? " (forces replacement)" : "";
                lines.push(`${indent}    ${change} ${c.path}: ${show(c.before)} => ${show(c.after)}${forces}`);
            }
        }
    });
    if (plan.deletes.length > 0 && multiLevel) lines.push(`  then:`);
    for (const r of plan.deletes) lines.push(`${multiLevel ? "    " : "  "}- ${r.type} ${r.name} (delete)`);
    const replacing = plan.updates.filter((u) => u.replaces.length > 0).length;
    const counts = [
        plan.creates.length && `${plan.creates.length} to create`,
        plan.updates.length - replacing && `${plan.updates.length - replacing} to update`,
        replacing && `${replacing} to replace`,
        plan.deletes.length && `${plan.deletes.length} to delete`,
        `${plan.unchanged} unchanged`,
    ].filter(Boolean).join(", ");
    return [...(lines.length ? lines : ["  (no changes)"]), "", `Resources: ${counts}`, "", REPLACE_CAVEAT].join("\n");
}
