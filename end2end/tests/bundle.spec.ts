// What a browser downloads: the bundle compressed on a first visit, nothing of it
// on the next one (hashed names, cached as immutable). Prints the bytes on the wire
// (docs/performance.md "What the browser downloads").
import type { CDPSession, Page } from "@playwright/test";
import { expect, gotoHydrated, logIn, test } from "./helpers";

type Transfer = { url: string; bytes: number; encoding: string; fromCache: boolean };

/** Records every response of the page and the bytes each took on the wire. */
async function recordTransfers(page: Page): Promise<{ cdp: CDPSession; transfers: Map<string, Transfer> }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.enable");
  const transfers = new Map<string, Transfer>();
  // Chromium says "served from cache" (memory or disk) before the response event.
  const servedFromCache = new Set<string>();
  cdp.on("Network.requestServedFromCache", (event) => servedFromCache.add(event.requestId));
  cdp.on("Network.responseReceived", (event) => {
    const headers = Object.fromEntries(
      Object.entries(event.response.headers).map(([name, value]) => [name.toLowerCase(), String(value)]),
    );
    transfers.set(event.requestId, {
      url: event.response.url,
      bytes: 0,
      encoding: headers["content-encoding"] ?? "",
      fromCache:
        servedFromCache.has(event.requestId) ||
        Boolean(event.response.fromDiskCache || event.response.fromPrefetchCache),
    });
  });
  cdp.on("Network.loadingFinished", (event) => {
    const transfer = transfers.get(event.requestId);
    if (transfer) transfer.bytes = event.encodedDataLength;
  });
  return { cdp, transfers };
}

function total(transfers: Map<string, Transfer>) {
  return [...transfers.values()].reduce((sum, transfer) => sum + transfer.bytes, 0);
}

function bundleFile(transfers: Map<string, Transfer>, extension: string) {
  return [...transfers.values()].find((transfer) =>
    new RegExp(`/pkg/runboard\\.[0-9a-f]{16}\\.${extension}$`).test(transfer.url),
  );
}

test("the bundle comes compressed under hashed names and a second visit loads it from the cache", async ({
  page,
}) => {
  await logIn(page);
  // A fresh cache, then the first visit of `/` as a signed-in person.
  const { cdp, transfers } = await recordTransfers(page);
  await cdp.send("Network.clearBrowserCache");
  await gotoHydrated(page, "/");
  await page.waitForLoadState("networkidle");
  const first = total(transfers);
  for (const extension of ["wasm", "js", "css"]) {
    const file = bundleFile(transfers, extension);
    expect(file, `a hashed .${extension} is loaded`).toBeDefined();
    expect(["br", "gzip"], `the .${extension} is sent compressed`).toContain(file!.encoding);
    expect(file!.fromCache).toBe(false);
  }

  transfers.clear();
  await gotoHydrated(page, "/");
  await page.waitForLoadState("networkidle");
  const second = total(transfers);
  for (const extension of ["wasm", "js", "css"]) {
    const file = bundleFile(transfers, extension);
    expect(file, `the .${extension} is named again`).toBeDefined();
    expect(file!.fromCache, `the .${extension} comes from the cache`).toBe(true);
    expect(file!.bytes).toBe(0);
  }
  console.log(`bytes on the wire for / after login: first visit ${first}, second visit ${second}`);
  expect(second).toBeLessThan(first / 10);
});
