// The preview identity's Kubernetes access (offline/preview-rbac.ts) covers every kind the program
// declares, through the stack config, and never Secrets. e2e/pr-preview.ts proves it on a real
// API server; this keeps it complete when the program gains a kind.
import * as assert from "node:assert/strict";
import { loadProgram } from "../offline/program";
import { isKubernetesObject } from "../offline/manifests";
import { PREVIEW_RESOURCES, previewAccessObjects, username } from "../offline/preview-rbac";
import { loadStackConfig } from "../offline/stack-files";
import { DEV_ON_EXISTING_CLUSTER, evaluate, useMocks } from "./harness";

/** The REST resource of a kind (Gateway → gateways, ServiceEntry → serviceentries). */
const plural = (kind: string) => (/[^aeiou]y$/.test(kind) ? `${kind.slice(0, -1)}ies` : `${kind}s`).toLowerCase();
/** The API group of an apiVersion (`v1` → core, ""). */
const group = (apiVersion: string) => (apiVersion.includes("/") ? apiVersion.split("/")[0] : "");

describe("preview RBAC (offline/preview-rbac.ts)", () => {
    let program: () => unknown;
    before(async () => {
        await useMocks();
        program = await loadProgram();
    });

    for (const [what, overrides] of [
        ["the dev stack", {}],
        ["the dev stack on an existing cluster, with TLS from cert-manager", { ...DEV_ON_EXISTING_CLUSTER, tlsCredentialName: "sample-tls", certIssuer: "letsencrypt" }],
    ] as const) {
        it(`grants every kind ${what} declares`, async () => {
            const ev = await evaluate(program, loadStackConfig("dev", overrides));
            assert.equal(ev.error, undefined);
            const needed = new Set(ev.resources.filter(isKubernetesObject).map((r) => `${group(r.inputs.apiVersion)}/${plural(r.inputs.kind)}`));
            const granted = new Set(Object.entries(PREVIEW_RESOURCES).flatMap(([g, resources]) => resources.map((r) => `${g}/${r}`)));
            assert.ok(needed.size >= 8, [...needed].join(", "));
            for (const n of needed) assert.ok(granted.has(n), `${n} is granted`);
        });
    }

    it("never grants Secrets, and lets the identity do nothing but dry runs", () => {
        const objects = previewAccessObjects({ kind: "User", name: "preview@p.iam.gserviceaccount.com" }) as any[];
        const [role, binding, policy, policyBinding] = objects;
        assert.ok(role.rules.every((r: any) => !r.resources.includes("secrets") && !r.verbs.includes("delete") && !r.verbs.includes("update")));
        assert.deepEqual(binding.subjects, [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "preview@p.iam.gserviceaccount.com" }]);
        assert.equal(policy.spec.matchConditions[0].expression, 'request.userInfo.username == "preview@p.iam.gserviceaccount.com"');
        assert.equal(policy.spec.validations[0].expression, "request.dryRun == true");
        assert.deepEqual(policy.spec.matchConstraints.resourceRules[0].resources, ["*/*"]);
        assert.deepEqual(policyBinding.spec, { policyName: policy.metadata.name, validationActions: ["Deny"] });
        assert.equal(username({ kind: "ServiceAccount", name: "p", namespace: "ns" }), "system:serviceaccount:ns:p");
    });
});
