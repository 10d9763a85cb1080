// Compares two evaluations of the program resource by resource, field by field, the way
// `pulumi preview --diff` reports an update: resources are identified by URN, changes by input path.
import type { DeclaredResource } from "./engine";
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
    updates: { resource: DeclaredResource; changes: FieldChange[] }[];
    unchanged: number;
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

/** Plans the change from `before` to `after`; inputs are compared with secrets masked. */
export function planChanges(before: DeclaredResource[], after: DeclaredResource[]): Plan {
    const old = new Map(before.map((r) => [r.urn, r]));
    const now = new Map(after.map((r) => [r.urn, r]));
    const plan: Plan = { creates: [], deletes: [], updates: [], unchanged: 0 };
    for (const r of after) {
        const previous = old.get(r.urn);
        if (!previous) {
            plan.creates.push(r);
            continue;
        }
        const changes = diffValues(describeResource(previous).inputs, describeResource(r).inputs);
        if (changes.length > 0) plan.updates.push({ resource: r, changes });
        else plan.unchanged++;
    }
    plan.deletes = before.filter((r) => !now.has(r.urn));
    return plan;
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

/** The plan as text, in the style of `pulumi preview --diff`. */
export function formatPlan(plan: Plan): string {
    const lines: string[] = [];
    for (const r of plan.creates) lines.push(`  + ${r.type} ${r.name} (create)`);
    for (const { resource, changes } of plan.updates) {
        lines.push(`  ~ ${resource.type} ${resource.name} (update)`);
        for (const c of changes) {
            const sign = c.before === undefined ? "+" : c.after === undefined ? "-" : "~";
            lines.push(`      ${sign} ${c.path}: ${show(c.before)} => ${show(c.after)}`);
        }
    }
    for (const r of plan.deletes) lines.push(`  - ${r.type} ${r.name} (delete)`);
    const counts = [
        plan.creates.length && `${plan.creates.length} to create`,
        plan.updates.length && `${plan.updates.length} to update`,
        plan.deletes.length && `${plan.deletes.length} to delete`,
        `${plan.unchanged} unchanged`,
    ].filter(Boolean).join(", ");
    return [...(lines.length ? lines : ["  (no changes)"]), "", `Resources: ${counts}`].join("\n");
}
