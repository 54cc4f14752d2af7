namespace StreamingApi.Streaming;

/// <summary>The answer of <c>/cookies</c>.</summary>
/// <param name="Visits">How many times this client has called <c>/cookies</c>, this call included.</param>
/// <param name="CookiesReceived">The names of the cookies the request carried.</param>
public sealed record VisitReport(int Visits, IReadOnlyList<string> CookiesReceived);
