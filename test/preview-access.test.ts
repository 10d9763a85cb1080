import * as assert from "node:assert/strict";
import type * as svc from "../components/blue-green-service";
import {
    AccessRequest, AuthorizationPolicySpec, DEFAULT_PREVIEW_ACCESS, GatewayScope, gatewayHostPatterns, ResolvedPreviewAccess, authorize, resolvePreviewAccess, buildGatewayPreviewPolicy, buildMeshPreviewPolicy, checkPreviewAccess,
} from "../components/preview-access";
import { Resources, evaluate, useMocks } from "./harness";

const selector = { istio: "ingress" };
const office = "203.0.113.0/24";
const issuer = "https://issuer.example.com";
const gateway: GatewayScope = { selector, hosts: ["sample.hoge.com"], serverPorts: [80] };
const fromOffice: AccessRequest = { host: "sample.hoge.com", headers: { "x-version": "green" }, remoteIp: "203.0.113.9" };
const fromInternet: AccessRequest = { host: "sample.hoge.com", headers: { "x-version": "green" }, remoteIp: "198.51.100.20" };
const withToken: AccessRequest = { ...fromInternet, requestPrincipal: `${issuer}/alice` };
const plain: AccessRequest = { host: "sample.hoge.com", remoteIp: "198.51.100.20" };

describe("previewAccess: who may reach a color with the header", () => {
    it("refuses the header from outside the allowed addresses, lets everything else through to routing", () => {
        const policy = buildGatewayPreviewPolicy(gateway, "x-version", { mode: "restricted", sourceCidrs: [office] });
        assert.equal(authorize([policy], fromOffice), 200);
        assert.equal(authorize([policy], fromInternet), 403);
        assert.equal(authorize([policy], { ...fromInternet, headers: { "X-Version": "blue" } }), 403, "header names are case-insensitive");
        assert.equal(authorize([policy], plain), 200, "ordinary traffic is never refused");
        assert.equal(authorize([policy], { ...fromInternet, headers: { "x-version": "purple" } }), 200, "a value no route matches reaches the active color anyway");
        assert.deepEqual(policy, {
            selector: { matchLabels: { istio: "ingress" } },
            action: "DENY",
            rules: [{
                from: [{ source: { notRemoteIpBlocks: [office] } }],
                to: [{ operation: { hosts: ["sample.hoge.com", "sample.hoge.com:*"] } }],
                when: [{ key: "request.headers[x-version]", values: ["blue", "green"] }],
            }],
        });
    });

    it("allows an address OR a valid token of the issuer (one source, fields ANDed in a DENY)", () => {
        const policy = buildGatewayPreviewPolicy(gateway, "x-version", { mode: "restricted", sourceCidrs: [office], jwt: { issuer } });
        assert.equal(authorize([policy], fromOffice), 200);
        assert.equal(authorize([policy], withToken), 200);
        assert.equal(authorize([policy], fromInternet), 403);
        assert.equal(authorize([policy], { ...fromInternet, requestPrincipal: "https://other.example.com/mallory" }), 403);
        const tokenOnly = buildGatewayPreviewPolicy(gateway, "x-version", { mode: "restricted", sourceCidrs: [], jwt: { issuer } });
        assert.equal(authorize([tokenOnly], withToken), 200);
        assert.equal(authorize([tokenOnly], fromOffice), 403);
    });

    it("refuses the header from everyone by default, until addresses or an issuer are allowed", () => {
        const policy = buildGatewayPreviewPolicy(gateway, "x-version", DEFAULT_PREVIEW_ACCESS);
        assert.equal(DEFAULT_PREVIEW_ACCESS.mode, "restricted");
        assert.equal(authorize([policy], fromOffice), 403);
        assert.equal(authorize([policy], plain), 200);
    });

    it("covers the app's hosts in every form the gateway routes, the port form included", () => {
        const policy = buildGatewayPreviewPolicy(gateway, "x-version", DEFAULT_PREVIEW_ACCESS);
        for (const host of ["sample.hoge.com", "sample.hoge.com:80", "sample.hoge.com:8080", "Sample.Hoge.COM:443"]) {
            assert.equal(authorize([policy], { ...fromInternet, host }), 403, host);
        }
        assert.equal(authorize([policy], { ...fromInternet, host: "other.hoge.com" }), 200, "another app's host");
        assert.equal(authorize([policy], { ...fromInternet, host: "sample.hoge.com.evil.example" }), 200, "not this app's host (and not routed to it)");
        // A wildcard host is routed with the Gateway's server ports only: those are the port forms to cover.
        assert.deepEqual(gatewayHostPatterns(["*.hoge.com", "sample.example.com"], [80, 443]),
            ["*.hoge.com", "*.hoge.com:80", "*.hoge.com:443", "sample.example.com", "sample.example.com:*"]);
        const wildcard = buildGatewayPreviewPolicy({ ...gateway, hosts: ["*.hoge.com"], serverPorts: [80, 443] }, "x-version", DEFAULT_PREVIEW_ACCESS);
        for (const host of ["a.hoge.com", "a.hoge.com:80", "A.HOGE.com:443"]) assert.equal(authorize([wildcard], { ...fromInternet, host }), 403, host);
    });

    it("on a gateway shared by two apps, one app's policy never refuses the other's allowed callers", () => {
        const shop = buildGatewayPreviewPolicy({ ...gateway, hosts: ["shop.example.com"] }, "x-version", DEFAULT_PREVIEW_ACCESS);
        const blog = buildGatewayPreviewPolicy({ ...gateway, hosts: ["blog.example.com"] }, "x-version", { mode: "restricted", sourceCidrs: [office] });
        const both = [shop, blog];
        assert.equal(authorize(both, { ...fromOffice, host: "blog.example.com" }), 200, "blog's office reaches blog's idle color");
        assert.equal(authorize(both, { ...fromOffice, host: "blog.example.com:80" }), 200);
        assert.equal(authorize(both, { ...fromInternet, host: "blog.example.com" }), 403, "blog still refuses everyone else");
        assert.equal(authorize(both, { ...fromOffice, host: "shop.example.com" }), 403, "shop allows nobody, the office included");
        assert.equal(authorize(both, { ...fromOffice, host: "shop.example.com:8443" }), 403);
    });

    it("in the mesh: only the gateway (already checked) or a token holder may send the header", () => {
        const policy = buildMeshPreviewPolicy("nginx", "istio-ingress", "x-version", { mode: "restricted", sourceCidrs: [office], jwt: { issuer } });
        assert.deepEqual(policy.selector, { matchLabels: { app: "nginx" } });
        assert.equal(authorize([policy], { headers: { "x-version": "green" }, sourceNamespace: "istio-ingress" }), 200);
        assert.equal(authorize([policy], { headers: { "x-version": "green" }, sourceNamespace: "shop" }), 403);
        assert.equal(authorize([policy], { headers: { "x-version": "green" }, sourceNamespace: "shop", requestPrincipal: `${issuer}/ci` }), 200);
        assert.equal(authorize([policy], { headers: { "x-version": "green" } }), 403, "a caller without mTLS identity (outside the mesh)");
        assert.equal(authorize([policy], { sourceNamespace: "shop" }), 200);
    });

    it("evaluates actions as Istio does: a matching DENY refuses; with ALLOW policies present, only a match passes", () => {
        const onHeader = [{ when: [{ key: "request.headers[x-version]", values: ["blue", "green"] }] }];
        const deny: AuthorizationPolicySpec = { selector: { matchLabels: selector }, action: "DENY", rules: onHeader };
        const allow: AuthorizationPolicySpec = { ...deny, action: "ALLOW" };
        const allowOffice: AuthorizationPolicySpec = { ...deny, action: "ALLOW", rules: [{ from: [{ source: { remoteIpBlocks: [office] } }] }] };
        assert.deepEqual([authorize([deny], fromInternet), authorize([deny], plain)], [403, 200]);
        assert.deepEqual([authorize([allow], fromInternet), authorize([allow], plain)], [200, 403], "an ALLOW policy refuses whatever it does not match");
        assert.deepEqual([authorize([allowOffice], fromOffice), authorize([allowOffice], fromInternet)], [200, 403]);
        assert.equal(authorize([allowOffice, deny], fromOffice), 403, "DENY is checked before ALLOW");
        assert.equal(authorize([allowOffice, allow], fromInternet), 200, "one matching ALLOW policy is enough");
        assert.equal(authorize([], fromInternet), 200, "no policy: allowed");
        assert.equal(authorize([{ ...deny, rules: [] }], fromInternet), 200, "a DENY policy without rules matches nothing");
        assert.equal(authorize([deny], { ...fromInternet, headers: { "x-version": "purple,green" } }), 403, "a repeated header matches by any of its values");
        const notGreen: AuthorizationPolicySpec = { ...deny, rules: [{ when: [{ key: "request.headers[x-version]", notValues: ["green"] }] }] };
        assert.deepEqual([authorize([notGreen], fromInternet), authorize([notGreen], plain)], [200, 403], "notValues holds for an absent header");
    });

    it("checks the settings", () => {
        const ok: ResolvedPreviewAccess = { mode: "restricted", sourceCidrs: [office, "198.51.100.7/32"], jwt: { issuer, jwksUri: `${issuer}/jwks.json` } };
        assert.deepEqual(checkPreviewAccess("previewAccess", ok), []);
        assert.deepEqual(checkPreviewAccess("previewAccess", { mode: "open", sourceCidrs: [] }), []);
        const bad = checkPreviewAccess("previewAccess", { mode: "open", sourceCidrs: ["203.0.113.1/24"], jwt: { issuer, jwksUri: "http://x" } });
        assert.deepEqual(bad.map((p) => p.setting), ["previewAccess.sourceCidrs[0]", "previewAccess.jwt.jwksUri", "previewAccess.mode"]);
    });

    describe("declared by BlueGreenService", () => {
        let mod: typeof svc;
        before(async () => {
            await useMocks();
            mod = await import("../components/blue-green-service");
        });
        const declare = async (args: Partial<svc.BlueGreenServiceArgs>) => {
            const ev = await evaluate(() => {
                new mod.BlueGreenService("bg", { activeColor: "blue", gatewaySelector: selector, gatewayNamespace: "istio-ingress", ...args });
            });
            assert.equal(ev.error, undefined, ev.error?.message);
            return new Resources(ev.resources);
        };

        it("puts the policies at the gateway and at the workload, with the token check at both", async () => {
            const r = await declare({ previewAccess: { mode: "restricted", sourceCidrs: [office], jwt: { issuer } } });
            const placed = r.all.filter((x) => ["AuthorizationPolicy", "RequestAuthentication"].includes(x.inputs.kind))
                .map((x) => [x.inputs.apiVersion, x.inputs.kind, `${x.inputs.metadata.namespace}/${x.inputs.metadata.name}`].join(" ")).sort();
            assert.deepEqual(placed, [
                "security.istio.io/v1 AuthorizationPolicy istio-ingress/sample-ns-nginx-preview",
                "security.istio.io/v1 AuthorizationPolicy sample-ns/nginx-preview",
                "security.istio.io/v1 RequestAuthentication istio-ingress/sample-ns-nginx-preview",
                "security.istio.io/v1 RequestAuthentication sample-ns/nginx-preview",
            ]);
            const gatewayPolicy = r.all.find((x) => x.inputs.kind === "AuthorizationPolicy" && x.inputs.metadata.namespace === "istio-ingress")!;
            assert.equal(authorize([gatewayPolicy.inputs.spec], fromInternet), 403);
            assert.deepEqual(r.all.find((x) => x.inputs.kind === "RequestAuthentication" && x.inputs.metadata.namespace === "istio-ingress")!.inputs.spec,
                { selector: { matchLabels: selector }, jwtRules: [{ issuer }] });
        });

        it("scopes each app's gateway policy to its hosts: two apps with defaults on one gateway", async () => {
            const ev = await evaluate(() => {
                new mod.BlueGreenService("shop", { activeColor: "blue", appName: "shop", namespace: "shop", hosts: ["shop.example.com"], gatewaySelector: selector, gatewayNamespace: "istio-ingress" });
                new mod.BlueGreenService("blog", { activeColor: "blue", appName: "blog", namespace: "blog", hosts: ["blog.example.com"], gatewaySelector: selector,
                    gatewayNamespace: "istio-ingress", previewAccess: { sourceCidrs: [office] }, tls: { credentialName: "blog-tls", gatewayNamespace: "istio-ingress", httpsRedirect: false } });
            });
            assert.equal(ev.error, undefined, ev.error?.message);
            const atGateway = new Resources(ev.resources).all.filter((x) => x.inputs.kind === "AuthorizationPolicy" && x.inputs.metadata.namespace === "istio-ingress");
            assert.equal(atGateway.length, 2);
            assert.deepEqual(atGateway.map((x) => x.inputs.spec.rules[0].to), [
                [{ operation: { hosts: ["shop.example.com", "shop.example.com:*"] } }],
                [{ operation: { hosts: ["blog.example.com", "blog.example.com:*"] } }],
            ]);
            const policies = atGateway.map((x) => x.inputs.spec);
            assert.equal(authorize(policies, { ...fromOffice, host: "blog.example.com:443" }), 200, "blog's allowed callers are not refused by shop's default");
            assert.equal(authorize(policies, { ...fromOffice, host: "shop.example.com" }), 403);
        });

        it("leaves the workload policy out without in-mesh routing, and everything out when open", async () => {
            const gatewayOnly = await declare({ meshRouting: false });
            assert.deepEqual(gatewayOnly.all.filter((x) => x.inputs.kind === "AuthorizationPolicy").map((x) => x.inputs.metadata.namespace), ["istio-ingress"]);
            const open = await declare({ previewAccess: { mode: "open", sourceCidrs: [] } });
            assert.equal(open.all.filter((x) => ["AuthorizationPolicy", "RequestAuthentication"].includes(x.inputs.kind)).length, 0);
        });
    });
    it("fills what a caller leaves out: restricted by default, no addresses, no issuer", () => {
        assert.deepEqual(resolvePreviewAccess(undefined), DEFAULT_PREVIEW_ACCESS);
        assert.deepEqual(resolvePreviewAccess({ mode: "open" }), { mode: "open", sourceCidrs: [] });
        assert.deepEqual(resolvePreviewAccess({ sourceCidrs: ["203.0.113.0/24"] }), { mode: "restricted", sourceCidrs: ["203.0.113.0/24"] });
        const jwt = { issuer: "https://issuer.example.com" };
        assert.deepEqual(resolvePreviewAccess({ jwt }), { mode: "restricted", sourceCidrs: [], jwt });
    });
});
