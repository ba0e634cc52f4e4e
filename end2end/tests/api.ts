// Drives the real JSON and runner APIs from the specs, as a program or runner would.
import { APIRequestContext, expect } from "@playwright/test";
import { OWNER_EMAIL, OWNER_PASSWORD } from "../playwright.config";

export const OTHER_EMAIL = "other@e2e.test";
export const OTHER_PASSWORD = "other-password-123";

export async function apiToken(request: APIRequestContext, email = OWNER_EMAIL, password = OWNER_PASSWORD) {
  const response = await request.post("/api/auth/token", { data: { email, password } });
  expect(response.status()).toBe(200);
  return (await response.json()).data.token as string;
}

export async function createRun(request: APIRequestContext, token: string, body: object) {
  const response = await request.post("/api/runs", {
    data: body,
    headers: { authorization: `Bearer ${token}` },
  });
  expect(response.status()).toBe(201);
  const data = (await response.json()).data;
  return { id: data.run.id as string, runner: data.runnerToken as string };
}

/** POSTs a runner callback and checks that it was accepted. */
export async function report(request: APIRequestContext, runner: string, id: string, part: string, body: object) {
  const response = await request.post(`/api/runner/runs/${id}/${part}`, {
    data: body,
    headers: { authorization: `Bearer ${runner}` },
  });
  expect(response.status(), await response.text()).toBe(200);
  return response.json();
}

/** A 1×1 PNG. */
export const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
  "base64",
);

export async function upload(request: APIRequestContext, runner: string, id: string, name: string, type: string, bytes: Buffer) {
  const response = await request.post(`/api/runner/runs/${id}/artifacts`, {
    headers: { authorization: `Bearer ${runner}` },
    multipart: { artifactType: "screenshot", file: { name, mimeType: type, buffer: bytes } },
  });
  expect(response.status(), await response.text()).toBe(200);
}
