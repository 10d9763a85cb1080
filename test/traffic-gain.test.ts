import * as assert from "node:assert/strict";
import fc from "fast-check";
import { COLORS, Color, StringMatch, TargetedRoute, VirtualServiceInputs, VirtualServiceSpec, buildVirtualServiceSpec, routeRequest } from "../components/routing";
import {
    catchAllShares,
    colorsGainingTraffic,
    detectRollback,
    keptServedTemplatePaths,
    podTemplateHash,
    servedTemplateAnnotation,
    servedTemplateAnnotations,
    servedTemplateIgnorePath,
} from "../components/traffic-gain";

const BASE: VirtualServiceInputs = {
    hosts: ["sample.hoge.com"], gateways: ["sample-ns/nginx-gateway"], serviceHost: "nginx.sample-ns.svc.cluster.local",
    servicePort: 40001, headerName: "x-version", activeColor: "blue",
};
const spec = (over: Partial<VirtualServiceInputs> = {}) => buildVirtualServiceSpec({ ...BASE, ...over });
const gaining = (a: VirtualServiceSpec | undefined, b: VirtualServiceSpec) => colorsGainingTraffic(a, b).map((g) => g.color);
const internal: TargetedRoute = { name: "internal", color: "green", headers: { "x-internal-user": { exact: "true" } } };

describe("which colors gain traffic (pure)", () => {
    it("a switch gives the new active color the catch-all, and nothing to the old one", () => {
        const gains = colorsGainingTraffic(spec(), spec({ activeColor: "green" }));
        assert.deepEqual(gains, [{ color: "green", reasons: ["catch-all share: 0% -> 100%"] }]);
        assert.deepEqual(gaining(spec({ activeColor: "green" }), spec()), ["blue"]);
    });

    it("an unchanged spec, a mirror, a timeout or a header rename gives no color anything", () => {
        assert.deepEqual(gaining(spec(), spec()), []);
        assert.deepEqual(gaining(spec(), spec({ mirrorToIdle: 20 })), [], "mirrored responses are discarded");
        assert.deepEqual(gaining(spec(), spec({ timeout: "30s" })), []);
        assert.deepEqual(gaining(spec(), spec({ headerName: "x-color" })), [], "header routes carry allowed testers only");
    });

    it("a weight raised gains; a weight lowered does not", () => {
        const canary = spec({ trafficWeights: { blue: 90, green: 10 } });
        assert.deepEqual(colorsGainingTraffic(spec(), canary), [{ color: "green", reasons: ["catch-all share: 0% -> 10%"] }]);
        assert.deepEqual(gaining(canary, spec({ trafficWeights: { blue: 50, green: 50 } })), ["green"]);
        assert.deepEqual(gaining(canary, spec()), ["blue"], "back to 100% blue: blue gains its 10%");
        assert.deepEqual(gaining(spec({ trafficWeights: { blue: 50, green: 50 } }), canary), ["blue"]);
    });

    it("a targeted route to a color gains, in words that say which requests", () => {
        const gains = colorsGainingTraffic(spec(), spec({ targetedRoutes: [internal] }));
        assert.deepEqual(gains, [{ color: "green", reasons: [`route "internal" (header x-internal-user = "true"): 0% -> 100%`] }]);
        assert.deepEqual(gaining(spec({ targetedRoutes: [internal] }), spec({ targetedRoutes: [{ ...internal, color: "blue" }] })), ["blue"]);
        assert.deepEqual(gaining(spec({ targetedRoutes: [internal] }), spec({ targetedRoutes: [{ ...internal, headers: { "x-internal-user": { prefix: "t" } } }] })),
            ["blue", "green"], "changed conditions: green may get other requests, and so may the catch-all behind the rule (the gate asks rather than guess)");
    });

    it("a route removed ahead of another sends its requests further down: the later route's colors gain", () => {
        const toBlue: TargetedRoute = { name: "qa", color: "blue", headers: { "x-qa": { exact: "1" } } };
        // Green active; removing the rule that kept QA on blue sends QA to the catch-all (green).
        assert.deepEqual(gaining(spec({ activeColor: "green", targetedRoutes: [toBlue] }), spec({ activeColor: "green" })), ["green"]);
    });

    it("a new VirtualService: every color it routes ordinary requests to gains", () => {
        assert.deepEqual(gaining(undefined, spec()), ["blue"]);
        assert.deepEqual(gaining(undefined, spec({ targetedRoutes: [internal] })), ["blue", "green"]);
    });

    it("reads the catch-all shares", () => {
        assert.deepEqual(catchAllShares(spec({ trafficWeights: { blue: 70, green: 30 } })), { blue: 70, green: 30 });
        assert.deepEqual(catchAllShares(spec({ activeColor: "green", targetedRoutes: [{ ...internal, color: "blue" }] })), { blue: 0, green: 100 });
    });

    // Property: whatever two specs the program can build, no request that gets a larger share of a
    // color afterwards goes unreported (the gate may ask more often than needed, never less).
    it("never misses a gain (generated specs, every kind of request they distinguish)", () => {
        const color = fc.constantFrom<Color>(...COLORS);
        const route = fc.record({
            name: fc.constantFrom("internal", "qa", "beta"),
            color,
            headers: fc.constantFrom<Record<string, StringMatch>>({ "x-internal-user": { exact: "true" } }, { "x-qa": { exact: "1" } }, { "x-qa": { prefix: "" } }),
        });
        const inputs: fc.Arbitrary<Partial<VirtualServiceInputs>> = fc.record({
            activeColor: color,
            trafficWeights: fc.option(fc.integer({ min: 0, max: 100 }).map((g) => ({ blue: 100 - g, green: g })), { nil: undefined }),
            targetedRoutes: fc.uniqueArray(route, { maxLength: 3, selector: (r) => r.name }),
            mirrorToIdle: fc.constantFrom(0, 10),
        });
        const requests = [{}, { headers: { "x-internal-user": "true" } }, { headers: { "x-qa": "1" } }, { headers: { "x-qa": "2" } },
            { headers: { "x-internal-user": "true", "x-qa": "1" } }];
        const share = (s: VirtualServiceSpec, request: object, c: Color) =>
            (routeRequest(s, request)?.destinations ?? []).filter((d) => d.subset === c).reduce((sum, d) => sum + d.weight, 0);
        fc.assert(fc.property(inputs, inputs, (a, b) => {
            const before = spec(a);
            const after = spec(b);
            const reported = gaining(before, after);
            for (const c of COLORS) {
                for (const request of requests) {
                    if (share(after, request, c) > share(before, request, c)) {
                        assert.ok(reported.includes(c), `${c} gains ${JSON.stringify(request)} from ${JSON.stringify(a)} to ${JSON.stringify(b)}`);
                    }
                }
            }
            // And nothing is reported when nothing changed.
            assert.deepEqual(gaining(before, spec(a)), []);
        }), { seed: 19, numRuns: 400 });
    });
});

/** The VirtualService inputs' annotations after an update, as the engine applies ignoreChanges to the program's new ones. */
function applied(old: Record<string, string> | undefined, program: Record<string, string>, kept: string[]): Record<string, string> {
    const next = { ...program };
    for (const color of COLORS) {
        const key = servedTemplateAnnotation(color);
        if (!kept.includes(servedTemplateIgnorePath(color)) || old === undefined) continue;
        if (old[key] !== undefined) next[key] = old[key];
        else delete next[key];
    }
    return next;
}

describe("rollback detection (pure)", () => {
    const inputs = (annotations: Record<string, string>) => ({ metadata: { annotations } });
    const hashes = { blue: "b1", green: "g1" };

    it("records the serving colors' templates and asks the engine to keep the idle one's", () => {
        assert.deepEqual(servedTemplateAnnotations({ blue: 100, green: 0 }, hashes), { [servedTemplateAnnotation("blue")]: "b1" });
        assert.deepEqual(servedTemplateAnnotations({ blue: 90, green: 10 }, hashes),
            { [servedTemplateAnnotation("blue")]: "b1", [servedTemplateAnnotation("green")]: "g1" });
        assert.deepEqual(keptServedTemplatePaths({ blue: 100, green: 0 }), [`metadata.annotations["gke-istio-bluegreen.dev/served-template-green"]`]);
    });

    it("back to the color that served, unchanged: a rollback", () => {
        const old = inputs({ [servedTemplateAnnotation("blue")]: "b1", [servedTemplateAnnotation("green")]: "g1" });
        const check = detectRollback("blue", old, inputs({ [servedTemplateAnnotation("blue")]: "b1" }));
        assert.equal(check.rollback, true);
        assert.match(check.reason, /blue served until the last switch with the same pod template \(b1\)/);
    });

    it("a color that never served, or changed since (even in this update), is no rollback", () => {
        const old = inputs({ [servedTemplateAnnotation("blue")]: "b1" });
        assert.equal(detectRollback("green", old, inputs({ [servedTemplateAnnotation("green")]: "g1" })).rollback, false);
        assert.match(detectRollback("green", old, inputs({})).reason, /has not served/);
        const changed = detectRollback("blue", old, inputs({ [servedTemplateAnnotation("blue")]: "b2" }));
        assert.equal(changed.rollback, false);
        assert.match(changed.reason, /pod template changed since it last served \(recorded b1, now b2\)/);
        assert.equal(detectRollback("blue", undefined, inputs({ [servedTemplateAnnotation("blue")]: "b1" })).rollback, false, "a new VirtualService has no history");
    });

    it("hashes pod templates stably: field order does not matter, any value does", () => {
        assert.equal(podTemplateHash({ a: 1, b: { c: "x" } }), podTemplateHash({ b: { c: "x" }, a: 1 }));
        assert.notEqual(podTemplateHash({ image: "nginx:1.27.5" }), podTemplateHash({ image: "nginx:1.28.0" }));
        assert.match(podTemplateHash({}), /^[0-9a-f]{16}$/);
    });

    // Property: over any sequence of updates (switches, splits, image changes on either color), the
    // record the engine keeps says "rollback" exactly when the color gaining traffic last served
    // with the template it has now.
    it("says rollback exactly when the color last served with the template it has now (generated histories)", () => {
        const step = fc.record({
            blueShare: fc.constantFrom(0, 10, 50, 100),
            images: fc.record({ blue: fc.constantFrom("b1", "b2"), green: fc.constantFrom("g1", "g2") }),
        });
        fc.assert(fc.property(fc.array(step, { minLength: 2, maxLength: 8 }), (steps) => {
            let state: Record<string, string> | undefined;
            const history: { shares: Record<Color, number>; images: Record<Color, string> }[] = [];
            for (const s of steps) {
                const shares = { blue: s.blueShare, green: 100 - s.blueShare };
                const program = servedTemplateAnnotations(shares, s.images);
                const next = applied(state, program, keptServedTemplatePaths(shares));
                for (const color of COLORS) {
                    const last = [...history].reverse().find((h) => h.shares[color] > 0);
                    const expected = state !== undefined && last !== undefined && last.images[color] === s.images[color];
                    if (shares[color] > 0) {
                        assert.equal(detectRollback(color, state && inputs(state), inputs(next)).rollback, expected,
                            `${color} after ${JSON.stringify(history)} then ${JSON.stringify(s)}`);
                    }
                }
                state = next;
                history.push({ shares, images: s.images });
            }
        }), { seed: 19, numRuns: 300 });
    });
});
