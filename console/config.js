// Where the console finds the API. `app-tokens serve` answers this file itself (same origin, the
// local lifetime limit); scripts/deploy-console.sh writes it with the stack's ApiUrl. Loaded as a
// module (script-src), so the Content-Security-Policy's connect-src names only the API.
export default { apiUrl: "", maxTokenLifetimeDays: 365 };
