// Requests with a body that go through CloudFront's origin access control to a Lambda Function URL must carry the
// body's SHA-256 (hex) in x-amz-content-sha256: CloudFront signs the request for Lambda, and Lambda does not accept an
// unsigned body (403 SignatureDoesNotMatch without it). Any client can send the header; nothing else changes.

/** The SHA-256 of the UTF-8 text, in lower-case hex. */
export async function sha256Hex(text) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), b => b.toString(16).padStart(2, '0')).join('');
}

/** POSTs the value as JSON with its x-amz-content-sha256. */
export async function postJson(url, value) {
  const body = JSON.stringify(value);
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-amz-content-sha256': await sha256Hex(body) },
    body,
  });
}
