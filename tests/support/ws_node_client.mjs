// Runs ws_scenario.mjs under real Node: node ws_node_client.mjs <ws module URL> <ws:// URL>.
// The ws module URL is Deno's cached copy of the npm package pinned in deno.lock.
const [moduleUrl, url] = process.argv.slice(2);
const { default: WebSocket } = await import(moduleUrl);
const { scenario } = await import("./ws_scenario.mjs");
process.stdout.write(JSON.stringify(await scenario(WebSocket, url)));
