// Stack configurations exercising the progressive-delivery settings, shared by the schema and
// policy suites.
export const PROGRESSIVE_CONFIGS: Record<string, Record<string, string>> = {
    "a canary split, targeted users and TLS with cert-manager": {
        trafficWeights: "blue=90,green=10",
        targetedRoutes: JSON.stringify(["green:header:x-internal-user=true", "green:cookie:beta=opt-in", "green:source:app=checkout", "blue:header-regex:x-user=^legacy-.*$"]),
        tlsCredentialName: "sample-hoge-com-tls",
        httpsRedirect: "true",
        certIssuer: "letsencrypt-prod",
        installCertManager: "true",
    },
    "mirroring to the idle color with a parked-down idle size": {
        activeColor: "green",
        mirrorToIdle: "20",
        idleReplicas: "1",
        routeTimeout: "30s",
        retryAttempts: "3",
    },
    "preview access by address and token, on an Istio revision": {
        previewSourceCidrs: JSON.stringify(["203.0.113.0/24", "198.51.100.7/32"]),
        previewJwtIssuer: "https://issuer.example.com",
        previewJwtAudiences: JSON.stringify(["https://preview.example.com"]),
        previewJwtClaims: JSON.stringify(["sub=alice", "sub=bob"]),
        previewJwksUri: "https://issuer.example.com/.well-known/jwks.json",
        istioRevision: "canary",
    },
};
