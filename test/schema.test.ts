import * as assert from "node:assert/strict";
import { findDanglingReferences, KubernetesObject } from "../components/references";
import { DEFAULT_ISTIO_VERSION } from "../components/istio-mesh";
import { COLORS } from "../components/routing";
import { evaluate, useMocks } from "../offline/engine";
import { applyOrder, toKubernetesObject } from "../offline/manifests";
import { SchemaValidator, structuralToJsonSchema } from "../offline/schema";
import { loadProgram } from "../offline/program";
import { loadStackConfig } from "../offline/stack-files";
import { PROGRESSIVE_CONFIGS } from "./progressive-configs";

describe("schema validation of rendered objects", function () {
    // The first run may download istio.io/api through the Go module proxy.
    this.timeout(180_000);
    let validator: SchemaValidator;
    const rendered: Record<string, KubernetesObject[]> = {};

    before(async () => {
        validator = await SchemaValidator.forIstio(DEFAULT_ISTIO_VERSION);
        await useMocks("dev");
        const program = await loadProgram();
        for (const color of COLORS) {
            const ev = await evaluate(program, loadStackConfig("dev", { activeColor: color }));
            assert.equal(ev.error, undefined);
            rendered[color] = applyOrder(ev.resources).map(toKubernetesObject);
        }
    });

    it("loads the Istio CRDs of the pinned version, including every kind the stack declares", () => {
        assert.match(validator.crdSource, new RegExp(`istio.io/api@v${DEFAULT_ISTIO_VERSION.replace(/\./g, "\\.")}`));
        for (const kind of ["Gateway", "VirtualService", "DestinationRule", "ServiceEntry"]) {
            assert.ok(validator.customKinds.includes(`networking.istio.io/v1/${kind}`), kind);
        }
        for (const kind of ["PeerAuthentication", "AuthorizationPolicy", "RequestAuthentication"]) {
            assert.ok(validator.customKinds.includes(`security.istio.io/v1/${kind}`), kind);
        }
        // Managed Service for Prometheus's scrape object, from the pinned prometheus-engine release.
        assert.ok(validator.customKinds.includes("monitoring.googleapis.com/v1/PodMonitoring"));
    });

    for (const color of COLORS) {
        it(`finds every object of the dev stack valid with activeColor=${color}`, async () => {
            const objects = rendered[color];
            assert.deepEqual(objects.map((o) => o.kind).sort(), ["AuthorizationPolicy", "AuthorizationPolicy", "Deployment", "Deployment", "DestinationRule", "Gateway", "Namespace",
                "Namespace", "Namespace", "PeerAuthentication", "PodDisruptionBudget", "PodDisruptionBudget", "PodMonitoring", "PodMonitoring", "Service", "ServiceEntry", "VirtualService"]);
            for (const o of objects) assert.deepEqual(await validator.validate(o), [], `${o.kind} ${o.metadata.name}`);
            assert.deepEqual(findDanglingReferences(objects), []);
        });
    }

    for (const [label, overrides] of Object.entries(PROGRESSIVE_CONFIGS)) {
        it(`finds every object valid with ${label}`, async () => {
            const program = await loadProgram();
            const ev = await evaluate(program, loadStackConfig("dev", overrides));
            assert.equal(ev.error, undefined, ev.error?.message);
            const objects = applyOrder(ev.resources).map(toKubernetesObject);
            for (const o of objects) assert.deepEqual(await validator.validate(o), [], `${o.kind} ${o.metadata.name}`);
            assert.deepEqual(findDanglingReferences(objects), []);
        });
    }

    it("catches broken objects: wrong types, unknown fields, missing fields, bad names, unknown kinds", async () => {
        const find = (kind: string) => structuredClone(rendered.blue.find((o) => o.kind === kind)!);
        const vs = find("VirtualService");
        vs.spec.http[0].route[0].weight = "100";
        vs.spec.http[1].rout = [];
        assert.deepEqual(await validator.validate(vs), [
            "VirtualService sample-ns/nginx: /spec/http/0/route/0/weight must be integer",
            "VirtualService sample-ns/nginx: /spec/http/1 must NOT have additional properties (rout)",
        ]);
        const dr = find("DestinationRule");
        dr.spec.trafficPolicy.loadBalancer.simple = "FASTEST";
        assert.match((await validator.validate(dr)).join("\n"), /loadBalancer.* must be equal to one of the allowed values/);
        const gw = find("Gateway");
        delete gw.spec.servers[0].port;
        assert.match((await validator.validate(gw)).join("\n"), /servers\/0 must have required property 'port'/);
        const deployment = find("Deployment");
        deployment.spec.replicas = "two";
        assert.match((await validator.validate(deployment)).join("\n"), /spec\/replicas must be integer/);
        const service = find("Service");
        service.metadata.name = "Nginx_Service";
        assert.match((await validator.validate(service)).join("\n"), /metadata.name "Nginx_Service" is not a DNS subdomain/);
        assert.match((await validator.validate({ apiVersion: "networking.istio.io/v9", kind: "VirtualService", metadata: { name: "x" } })).join(), /neither a Kubernetes API nor a known CRD/);
        assert.match((await validator.validate({ apiVersion: "apps/v1", kind: "Deploymnt", metadata: { name: "x" } })).join(), /kind Deploymnt does not exist/);
        const podMonitoring = find("PodMonitoring");
        podMonitoring.spec.endpoints[0].metricRelabeling[0].action = "keepp";
        podMonitoring.spec.endpoints[0].metricRelabeling[0].sourceLabels = ["a-b"];
        delete podMonitoring.spec.selector;
        assert.deepEqual(await validator.validate(podMonitoring), [
            "PodMonitoring istio-ingress/nginx-ingress-gateway: /spec must have required property 'selector'",
            "PodMonitoring istio-ingress/nginx-ingress-gateway: /spec/endpoints/0/metricRelabeling/0/action must be equal to one of the allowed values",
            "PodMonitoring istio-ingress/nginx-ingress-gateway: /spec/endpoints/0/metricRelabeling/0/sourceLabels/0 must match pattern \"^[a-zA-Z_][a-zA-Z0-9_]*$\"",
        ]);
        const certificate = { apiVersion: "cert-manager.io/v1", kind: "Certificate", metadata: { name: "c", namespace: "istio-ingress" }, spec: { dnsNames: ["a.example.com"], issuerRef: { name: "x" } } };
        assert.match((await validator.validate(certificate)).join(), /spec must have required property '?secretName/);
    });

    it("converts CRD structural schemas: closed objects, int-or-string, nullable, preserved fields", () => {
        const schema = structuralToJsonSchema({
            type: "object",
            properties: {
                port: { "x-kubernetes-int-or-string": true },
                note: { type: "string", nullable: true },
                free: { type: "object", "x-kubernetes-preserve-unknown-fields": true, properties: { a: { type: "string" } } },
            },
        });
        assert.equal(schema.additionalProperties, false);
        assert.deepEqual(schema.properties.port, { anyOf: [{ type: "integer" }, { type: "string" }] });
        assert.deepEqual(schema.properties.note.type, ["string", "null"]);
        assert.equal(schema.properties.free.additionalProperties, undefined);
    });
});
