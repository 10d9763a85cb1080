import * as assert from "node:assert/strict";
import type * as svc from "../components/blue-green-service";
import {
    AccessRequest, AuthorizationPolicySpec, DEFAULT_PREVIEW_ACCESS, GatewayScope, PreviewJwt, buildRequestAuthenticationSpec, gatewayHostPatterns, ResolvedPreviewAccess, authorize, resolvePreviewAccess, buildGatewayPreviewPolicy, buildMeshPreviewPolicy, checkPreviewAccess,
} from "../components/preview-access";
import { loadProgram } from "../offline/program";
import { loadStackConfig } from "../offline/stack-files";
import { Resources, evaluate, useMocks } from "./harness";

const selector = { istio: "ingress" };
const office = "203.0.113.0/24";
const issuer = "https://issuer.example.com";
const audience = "https://preview.example.com";
const jwt: PreviewJwt = { issuer, audiences: [audience] };
const gateway: GatewayScope = { selector, hosts: ["sample.hoge.com"], serverPorts: [80] };
const fromOffice: AccessRequest = { host: "sample.hoge.com", headers: { "x-version": "green" }, remoteIp: "203.0.113.9" };
const fromInternet: AccessRequest = { host: "sample.hoge.com", headers: { "x-version": "green" }, remoteIp: "198.51.100.20" };
const withToken: AccessRequest = { ...fromInternet, requestPrincipal: `${issuer}/alice`, claims: { sub: "alice", aud: audience } };
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
        const policy = buildGatewayPreviewPolicy(gateway, "x-version", { mode: "restricted", sourceCidrs: [office], jwt });
        assert.equal(authorize([policy], fromOffice), 200);
        assert.equal(authorize([policy], withToken), 200);
        assert.equal(authorize([policy], fromInternet), 403);
        assert.equal(authorize([policy], { ...fromInternet, requestPrincipal: "https://other.example.com/mallory", claims: { aud: audience } }), 403);
        const tokenOnly = buildGatewayPreviewPolicy(gateway, "x-version", { mode: "restricted", sourceCidrs: [], jwt });
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
        const policy = buildMeshPreviewPolicy("nginx", "istio-ingress", "x-version", { mode: "restricted", sourceCidrs: [office], jwt });
        assert.deepEqual(policy.selector, { matchLabels: { app: "nginx" } });
        assert.equal(authorize([policy], { headers: { "x-version": "green" }, sourceNamespace: "istio-ingress" }), 200);
        assert.equal(authorize([policy], { headers: { "x-version": "green" }, sourceNamespace: "shop" }), 403);
        assert.equal(authorize([policy], { headers: { "x-version": "green" }, sourceNamespace: "shop", requestPrincipal: `${issuer}/ci`, claims: { aud: audience } }), 200);
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

    it("lets a token pass only for our audiences, whichever RequestAuthentication on the gateway accepted it", () => {
        assert.deepEqual(buildRequestAuthenticationSpec(selector, jwt), { selector: { matchLabels: selector }, jwtRules: [{ issuer, audiences: [audience] }] });
        const policy = buildGatewayPreviewPolicy(gateway, "x-version", { mode: "restricted", sourceCidrs: [], jwt });
        assert.equal(authorize([policy], withToken), 200);
        assert.equal(authorize([policy], { ...withToken, claims: { sub: "alice", aud: ["https://other.example.com", audience] } }), 200, "one of our audiences among several");
        // Another app on the same gateway trusts the same issuer for its own audience: Envoy merges
        // the RequestAuthentications of a workload, so that token is valid here too.
        assert.equal(authorize([policy], { ...withToken, claims: { sub: "mallory", aud: "https://shop.example.com" } }), 403);
        assert.equal(authorize([policy], { ...withToken, claims: { sub: "mallory" } }), 403, "no audience at all");
        const mesh = buildMeshPreviewPolicy("nginx", "istio-ingress", "x-version", { mode: "restricted", sourceCidrs: [], jwt });
        assert.equal(authorize([mesh], { ...withToken, sourceNamespace: "shop" }), 200);
        assert.equal(authorize([mesh], { ...withToken, sourceNamespace: "shop", claims: { aud: "https://shop.example.com" } }), 403);
    });

    it("lets a token pass only with the required claims: values of one claim are alternatives, claims all apply", () => {
        const narrowed: PreviewJwt = { ...jwt, claims: [{ name: "email", values: ["alice@example.com"] }, { name: "email", values: ["bob@example.com"] }, { name: "hd", values: ["example.com"] }] };
        const access: ResolvedPreviewAccess = { mode: "restricted", sourceCidrs: [office], jwt: narrowed };
        const token = (claims: Record<string, string>): AccessRequest => ({ ...fromInternet, requestPrincipal: `${issuer}/${claims.email}`, claims: { aud: audience, ...claims } });
        for (const policy of [buildGatewayPreviewPolicy(gateway, "x-version", access), buildMeshPreviewPolicy("nginx", "istio-ingress", "x-version", access)]) {
            const inMesh = policy.selector.matchLabels.app === "nginx" ? { sourceNamespace: "shop" } : {};
            const verdict = (claims: Record<string, string>) => authorize([policy], { ...token(claims), ...inMesh });
            assert.equal(verdict({ email: "alice@example.com", hd: "example.com" }), 200);
            assert.equal(verdict({ email: "bob@example.com", hd: "example.com" }), 200);
            assert.equal(verdict({ email: "mallory@example.com", hd: "example.com" }), 403, "the domain alone is not enough");
            assert.equal(verdict({ email: "alice@example.com" }), 403, "nor the address without the domain");
            assert.equal(verdict({ email: "alice@example.com", hd: "example.com", aud: "https://shop.example.com" }), 403, "nor the claims for another audience");
        }
        const gatewayPolicy = buildGatewayPreviewPolicy(gateway, "x-version", access);
        assert.equal(authorize([gatewayPolicy], { ...fromOffice, requestPrincipal: `${issuer}/mallory`, claims: { aud: "x" } }), 200, "the office needs no token");
        assert.deepEqual(gatewayPolicy.rules.map((r) => r.when), [
            [{ key: "request.headers[x-version]", values: ["blue", "green"] }],
            [{ key: "request.headers[x-version]", values: ["blue", "green"] }, { key: "request.auth.audiences", notValues: [audience] }],
            [{ key: "request.headers[x-version]", values: ["blue", "green"] }, { key: "request.auth.claims[email]", notValues: ["alice@example.com", "bob@example.com"] }],
            [{ key: "request.headers[x-version]", values: ["blue", "green"] }, { key: "request.auth.claims[hd]", notValues: ["example.com"] }],
        ]);
    });

    it("requires audiences, and for a public issuer a claim naming who may pass", () => {
        const check = (token: Partial<PreviewJwt>) => checkPreviewAccess("previewAccess", { mode: "restricted", sourceCidrs: [], jwt: { ...jwt, ...token } as PreviewJwt });
        assert.deepEqual(check({}), []);
        assert.deepEqual(check({ audiences: [] }).map((p) => p.setting), ["previewAccess.jwt.audiences"]);
        assert.deepEqual(check({ audiences: undefined }).map((p) => p.setting), ["previewAccess.jwt.audiences"]);
        assert.match(check({ audiences: [] })[0].message, /Without them Envoy checks no audience and any token of the issuer passes/);
        for (const google of ["https://accounts.google.com", "accounts.google.com", "https://ACCOUNTS.google.com/"]) {
            const found = check({ issuer: google });
            assert.deepEqual(found.map((p) => p.setting), ["previewAccess.jwt.claims"], google);
            assert.match(found[0].message, /names none of email, sub, hd, while previewAccess\.jwt\.issuer .* issues tokens to any Google account or service account, for any audience it names/);
        }
        assert.deepEqual(check({ issuer: "https://accounts.google.com", claims: [{ name: "hd", values: ["example.com"] }] }), []);
        assert.equal(check({ issuer: "https://accounts.google.com", claims: [{ name: "email_verified", values: ["true"] }] }).length, 1, "a claim anyone has");
        const github = "https://token.actions.githubusercontent.com";
        assert.equal(check({ issuer: github, claims: [{ name: "environment", values: ["production"] }] }).length, 1, "anyone can name an environment");
        assert.deepEqual(check({ issuer: github, claims: [{ name: "repository", values: ["my-org/my-repo"] }] }), []);
        for (const other of ["https://gitlab.com", "https://agent.buildkite.com", "https://app.terraform.io"]) assert.equal(check({ issuer: other }).length, 1, other);
        assert.deepEqual(check({ claims: [{ name: "email", values: ["*@example.com"] }, { name: "bad name", values: ["x"] }, { name: "sub", values: [] }] }).map((p) => p.setting),
            ["previewAccess.jwt.claims[0]", "previewAccess.jwt.claims[1]", "previewAccess.jwt.claims[2]"]);
        assert.doesNotMatch(check({ issuer: "" })[0].message, /accounts\.google\.com/, "no public issuer is suggested");
    });

    it("checks the settings", () => {
        const ok: ResolvedPreviewAccess = { mode: "restricted", sourceCidrs: [office, "198.51.100.7/32"], jwt: { ...jwt, jwksUri: `${issuer}/jwks.json` } };
        assert.deepEqual(checkPreviewAccess("previewAccess", ok), []);
        assert.deepEqual(checkPreviewAccess("previewAccess", { mode: "open", sourceCidrs: [] }), []);
        const bad = checkPreviewAccess("previewAccess", { mode: "open", sourceCidrs: ["203.0.113.1/24"], jwt: { ...jwt, jwksUri: "http://x" } });
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
            const r = await declare({ previewAccess: { mode: "restricted", sourceCidrs: [office], jwt } });
            const placed = r.all.filter((x) => ["AuthorizationPolicy", "RequestAuthentication"].includes(x.inputs.kind))
                .map((x) => [x.inputs.apiVersion, x.inputs.kind, `${x.inputs.metadata.namespace}/${x.inputs.metadata.name}`].join(" ")).sort();
            assert.deepEqual(placed, [
                "security.istio.io/v1 AuthorizationPolicy istio-ingress/sample-ns-nginx-preview-x-version",
                "security.istio.io/v1 AuthorizationPolicy sample-ns/nginx-preview-x-version",
                "security.istio.io/v1 RequestAuthentication istio-ingress/sample-ns-nginx-preview",
                "security.istio.io/v1 RequestAuthentication sample-ns/nginx-preview",
            ]);
            const gatewayPolicy = r.all.find((x) => x.inputs.kind === "AuthorizationPolicy" && x.inputs.metadata.namespace === "istio-ingress")!;
            assert.equal(authorize([gatewayPolicy.inputs.spec], fromInternet), 403);
            assert.deepEqual(r.all.find((x) => x.inputs.kind === "RequestAuthentication" && x.inputs.metadata.namespace === "istio-ingress")!.inputs.spec,
                { selector: { matchLabels: selector }, jwtRules: [{ issuer, audiences: [audience] }] });
        });

        it("the route waits for every guard, and a header change guards the new header with new objects", async () => {
            const guards = (r: Resources) => r.all.filter((x) => ["AuthorizationPolicy", "RequestAuthentication"].includes(x.inputs.kind));
            const before = await declare({ previewAccess: { sourceCidrs: [office], jwt } });
            const virtualService = before.only("VirtualService");
            assert.equal(guards(before).length, 4);
            for (const guard of guards(before)) assert.ok(virtualService.dependsOn.includes(guard.urn), `the VirtualService waits for ${guard.name}`);
            const after = await declare({ previewAccess: { sourceCidrs: [office], jwt }, headerName: "x-color" });
            const moved = (r: Resources) => guards(r).filter((x) => x.inputs.kind === "AuthorizationPolicy").map((x) => `${x.name} ${x.inputs.metadata.name}`).sort();
            assert.deepEqual(moved(before), ["bg-mesh-preview-access-x-version nginx-preview-x-version", "bg-preview-access-x-version sample-ns-nginx-preview-x-version"]);
            assert.deepEqual(moved(after), ["bg-mesh-preview-access-x-color nginx-preview-x-color", "bg-preview-access-x-color sample-ns-nginx-preview-x-color"]);
            const kept = (r: Resources) => guards(r).filter((x) => x.inputs.kind === "RequestAuthentication").map((x) => x.urn).sort();
            assert.deepEqual(kept(after), kept(before), "the token checks do not name the header and stay as they are");
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
        assert.deepEqual(resolvePreviewAccess({ jwt }), { mode: "restricted", sourceCidrs: [], jwt });
    });
});

describe("previewAccess through the stack config (the program pulumi up runs)", () => {
    let program: () => unknown;
    before(async () => {
        await useMocks();
        program = await loadProgram();
    });
    const run = (overrides: Record<string, string>) => evaluate(program, loadStackConfig("dev", overrides));
    const tokenSettings = {
        previewJwtIssuer: "https://accounts.google.com",
        previewJwtAudiences: JSON.stringify([audience]),
        previewJwtClaims: JSON.stringify(["hd=example.com", "email=alice@example.com", "email=bob@example.com"]),
    };

    it("previewJwtAudiences and previewJwtClaims reach the RequestAuthentications and AuthorizationPolicies", async () => {
        const ev = await run(tokenSettings);
        assert.equal(ev.error, undefined, ev.error?.message);
        const r = new Resources(ev.resources);
        const authentications = r.all.filter((x) => x.inputs.kind === "RequestAuthentication");
        assert.equal(authentications.length, 2);
        for (const x of authentications) assert.deepEqual(x.inputs.spec.jwtRules, [{ issuer: "https://accounts.google.com", audiences: [audience] }]);
        const policies = r.all.filter((x) => x.inputs.kind === "AuthorizationPolicy");
        assert.equal(policies.length, 2);
        for (const x of policies) {
            assert.deepEqual(x.inputs.spec.rules.slice(1).map((rule: any) => rule.when[1]), [
                { key: "request.auth.audiences", notValues: [audience] },
                { key: "request.auth.claims[hd]", notValues: ["example.com"] },
                { key: "request.auth.claims[email]", notValues: ["alice@example.com", "bob@example.com"] },
            ]);
        }
        const google = (claims: Record<string, string>): AccessRequest =>
            ({ ...fromInternet, host: "sample.hoge.com", requestPrincipal: `https://accounts.google.com/${claims.email}`, claims: { aud: audience, ...claims } });
        const atGateway = policies.filter((x) => x.inputs.metadata.namespace === "istio-ingress").map((x) => x.inputs.spec);
        assert.equal(authorize(atGateway, google({ email: "alice@example.com", hd: "example.com" })), 200);
        assert.equal(authorize(atGateway, google({ email: "stranger@gmail.com" })), 403, "any other Google account is refused");
    });

    for (const [what, overrides, pattern] of [
        ["an issuer without audiences", { previewJwtIssuer: issuer }, /previewJwtAudiences: got \[\]; allowed values: one or more audiences/],
        ["a public issuer without claims", { ...tokenSettings, previewJwtClaims: "[]" },
            /previewJwtClaims: names none of email, sub, hd, while previewJwtIssuer "https:\/\/accounts.google.com" issues tokens to any Google account/],
        ["a public issuer with a claim that names nobody", { ...tokenSettings, previewJwtClaims: JSON.stringify(["email_verified=true"]) }, /previewJwtClaims: names none of/],
        ["a claim written without =", { ...tokenSettings, previewJwtClaims: JSON.stringify(["alice@example.com"]) },
            /previewJwtClaims\[0\]: got "alice@example.com"; allowed values: <claim>=<value>/],
        ["audiences without an issuer", { previewJwtAudiences: JSON.stringify([audience]) }, /previewJwtAudiences: is .* but only applies with previewJwtIssuer set/],
        ["claims without an issuer", { previewJwtClaims: JSON.stringify(["sub=alice"]) }, /previewJwtClaims: is .* but only applies with previewJwtIssuer set/],
    ] as const) {
        it(`refuses ${what}, naming the settings, before declaring anything`, async () => {
            const ev = await run(overrides);
            assert.match(ev.error?.message ?? "", pattern);
            assert.deepEqual(ev.resources.map((x) => x.type), ["pulumi:pulumi:Stack"]);
        });
    }
});
