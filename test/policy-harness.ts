// Runs CrossGuard policies outside the engine. @pulumi/policy has no public test harness, so this
// builds the validation arguments the engine would pass, as Pulumi's compliance-policies repo does.
import type { Policy, PolicyResource, ResourceValidationArgs, ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy } from "@pulumi/policy";

/** A resource handed to a policy: type, name and properties. */
export interface PolicyInput {
    type: string;
    name?: string;
    props: Record<string, any>;
}

/** One reported violation. */
export interface Violation {
    policy: string;
    enforcementLevel: string;
    message: string;
    urn?: string;
}

class NotApplicable extends Error {}

function configFor(policy: Policy, config: Record<string, unknown>): () => any {
    const defaults = Object.fromEntries(Object.entries(policy.configSchema?.properties ?? {})
        .filter(([, schema]) => (schema as any).default !== undefined).map(([k, schema]) => [k, (schema as any).default]));
    return () => ({ ...defaults, ...config });
}

function asPolicyResource(input: PolicyInput): PolicyResource & ResourceValidationArgs {
    const name = input.name ?? "test";
    return {
        type: input.type, name, props: input.props, urn: `urn:pulumi:test::test::${input.type}::${name}`,
        opts: {} as any, dependencies: [], propertyDependencies: {}, stackTags: new Map(),
        isType: () => false, asType: () => undefined, getConfig: () => ({}) as any,
        notApplicable: (reason?: string) => { throw new NotApplicable(reason); },
    };
}

/** Runs one policy over resources (a resource policy per resource, a stack policy over all). */
export async function runPolicy(policy: ResourceValidationPolicy | StackValidationPolicy, inputs: PolicyInput[], config: Record<string, unknown> = {}): Promise<Violation[]> {
    const violations: Violation[] = [];
    const report = (message: string, urn?: string) => violations.push({ policy: policy.name, enforcementLevel: policy.enforcementLevel ?? "advisory", message, urn });
    const getConfig = configFor(policy, config);
    try {
        if ("validateStack" in policy && policy.validateStack) {
            const args: StackValidationArgs = { resources: inputs.map(asPolicyResource), stackTags: new Map(), getConfig, notApplicable: (r) => { throw new NotApplicable(r); } };
            await policy.validateStack(args, report);
        } else if ("validateResource" in policy && policy.validateResource) {
            const validations = Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource];
            for (const input of inputs) {
                const args = { ...asPolicyResource(input), getConfig };
                for (const validate of validations) await validate(args, (m, urn) => report(m, urn ?? args.urn));
            }
        }
    } catch (e) {
        if (!(e instanceof NotApplicable)) throw e;
    }
    return violations;
}

/** Messages only, for compact assertions. */
export async function messages(policy: ResourceValidationPolicy | StackValidationPolicy, inputs: PolicyInput[], config?: Record<string, unknown>): Promise<string[]> {
    return (await runPolicy(policy, inputs, config)).map((v) => v.message);
}
