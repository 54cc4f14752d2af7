using System.Runtime.InteropServices;
using System.Security.Claims;
using System.Text;
using System.Text.Json.Nodes;
using LambdaStreamingHosting.Events;

namespace LambdaStreamingHosting.Tests.Events;

/// <summary>
/// What the single-pass event reader must get right beyond the golden events: JSON that is legal but unusual (repeated
/// names, odd case, nulls, escapes, extra fields, size), and reading without copying or changing the event bytes.
/// </summary>
public class EventReaderTests
{
    private const string Context = "\"requestContext\":{\"http\":{\"method\":\"GET\"}}";

    private static LambdaHttpRequest MapV2(string fields) => GoldenEvents.MapJson("{\"version\":\"2.0\",\"rawPath\":\"/\"," + fields + "," + Context + "}");

    private static string[] Names(LambdaHttpRequest request) => [.. request.Headers.Keys];

    [Fact]
    public void A_repeated_field_keeps_its_last_value_at_every_level()
    {
        var request = GoldenEvents.MapJson("""
            {"version":"2.0","rawPath":"/first","rawPath":"/second",
             "headers":{"x-gone":"1"},"headers":{"x-kept":"2","x-kept":"3"},
             "requestContext":{"http":{"method":"POST"},"http":{"method":"PUT","sourceIp":"10.0.0.1"}}}
            """);

        Assert.Equal("/second", request.Path);
        Assert.False(request.Headers.ContainsKey("x-gone"));
        Assert.Equal("3", request.Headers["x-kept"].ToString());
        Assert.Equal("PUT", request.Method);
        Assert.Equal("10.0.0.1", request.RemoteIpAddress?.ToString());
    }

    [Fact]
    public void A_repeated_request_context_replaces_the_first_one_entirely()
    {
        // The first context makes it an ALB event; the second has no "elb": a REST event.
        var request = GoldenEvents.MapJson("""
            {"httpMethod":"GET","path":"/x","requestContext":{"elb":{"targetGroupArn":"arn"}},"requestContext":{"stage":"prod"}}
            """);

        Assert.Equal(LambdaEventSource.RestApi, request.Source);
    }

    [Fact]
    public void A_repeated_header_name_with_null_last_removes_the_header()
    {
        var request = MapV2("""
            "headers":{"x-a":"1","x-b":"2","x-a":null}
            """);

        Assert.False(request.Headers.ContainsKey("x-a"));
        Assert.Equal("2", request.Headers["x-b"].ToString());
    }

    [Fact]
    public void Header_names_that_differ_only_in_case_add_up_first_spelling_first()
    {
        var single = MapV2("""
            "headers":{"x-custom":"1","accept":"text/html","X-Custom":"2","ACCEPT":"*/*"}
            """);
        var multi = GoldenEvents.MapJson("""
            {"httpMethod":"GET","path":"/","requestContext":{},
             "multiValueHeaders":{"x-custom":["1","2"],"X-CUSTOM":["3"],"Accept":[null,"a"]}}
            """);

        Assert.Equal(new string?[] { "1", "2" }, single.Headers["X-CUSTOM"].ToArray());
        Assert.Equal(new string?[] { "text/html", "*/*" }, single.Headers["Accept"].ToArray());
        Assert.Equal(new string?[] { "1", "2", "3" }, multi.Headers["x-custom"].ToArray());
        Assert.Equal(new string?[] { "a" }, multi.Headers["accept"].ToArray());
    }

    [Fact]
    public void Well_known_header_names_take_kestrels_spelling_others_keep_the_events()
    {
        var request = MapV2("""
            "headers":{"USER-AGENT":"curl","content-type":"text/plain","x-forwarded-proto":"https","X-My-Header":"1","x-amzn-trace-id":"Root=1"}
            """);

        Assert.Equal(["User-Agent", "Content-Type", "x-forwarded-proto", "X-My-Header", "x-amzn-trace-id"], Names(request));
        Assert.Equal("curl", request.Headers["User-Agent"].ToString());
    }

    [Fact]
    public void Null_values_empty_values_and_empty_names_are_left_out()
    {
        var request = MapV2("""
            "headers":{"x-null":null,"":"no name","x-empty":"","x-kept":"v"}
            """);
        var multi = GoldenEvents.MapJson("""
            {"httpMethod":"GET","path":"/","requestContext":{},
             "multiValueHeaders":{"x-null":null,"x-none":[],"x-nulls":[null,null],"x-one-empty":[""],"x-two-empty":["",""],"x-kept":[null,"v",null]}}
            """);

        Assert.Equal(["x-kept"], Names(request));
        Assert.Equal(["x-two-empty", "x-kept"], Names(multi));
        Assert.Equal("v", multi.Headers["x-kept"].ToString());
        Assert.Equal(2, multi.Headers["x-two-empty"].Count);
    }

    [Fact]
    public void Escaped_names_values_and_fields_are_unescaped()
    {
        var request = GoldenEvents.MapJson("""
            {"ver\u0073ion":"2\u002e0","rawPath":"/caf\u00e9/\"q\"","rawQueryString":"a=\u0031",
             "headers":{"user-\u0061gent":"say \"hi\"","x-\u00e9":"\u00e9\t","x-forwarded-port":"8\u00308\u0030"},
             "cookies":["a=\u0031","b=\"2\""],
             "requestContext":{"http":{"method":"p\u006fst","protocol":"HTTP\/2","sourceIp":"10.0.0.\u0032"},"domainName":"local\u0068ost"}}
            """);

        Assert.Equal(LambdaEventSource.FunctionUrl, request.Source);
        Assert.Equal("POST", request.Method);
        Assert.Equal("/café/\"q\"", request.Path);
        Assert.Equal("?a=1", request.QueryString);
        Assert.Equal("say \"hi\"", request.Headers["User-Agent"].ToString());
        Assert.Equal("é\t", request.Headers["x-é"].ToString());
        Assert.Equal("a=1; b=\"2\"", request.Headers["Cookie"].ToString());
        Assert.Equal(8080, request.LocalPort);
        Assert.Equal("HTTP/2", request.Protocol);
        Assert.Equal("10.0.0.2", request.RemoteIpAddress?.ToString());
        Assert.Equal("localhost", request.Headers["Host"].ToString());
    }

    [Fact]
    public void Cookie_header_keeps_its_place_with_the_value_rebuilt_from_cookies()
    {
        var request = MapV2("""
            "headers":{"accept":"*/*","cookie":"stale=1","x-last":"1"},"cookies":["a=1",null,"","b=2"]
            """);
        var onlyEmpty = MapV2("""
            "headers":{"cookie":"stale=1"},"cookies":[""]
            """);

        Assert.Equal(["Accept", "Cookie", "x-last"], Names(request));
        Assert.Equal("a=1; b=2", request.Headers["Cookie"].ToString());
        Assert.Equal("", onlyEmpty.Headers["Cookie"].ToString());
    }

    [Fact]
    public void Long_cookie_lists_are_joined_whole()
    {
        string[] cookies = [.. Enumerable.Range(0, 3).Select(i => $"c{i}=" + new string((char)('a' + i), 200))];
        var request = MapV2("\"cookies\":[" + string.Join(",", cookies.Select(c => "\"" + c + "\"")) + "]");

        Assert.Equal(string.Join("; ", cookies), request.Headers["Cookie"].ToString());
    }

    [Fact]
    public void A_reused_request_is_filled_anew_with_nothing_of_the_previous_event()
    {
        var options = new LambdaStreamingOptions();
        var request = new LambdaHttpRequest();
        var first = GoldenEvents.Read("function_url_base64_body.json");
        EventMapper.Map(first, options, request);
        var headers = request.Headers;
        Assert.NotEmpty(headers);
        Assert.False(request.Body.IsEmpty);

        var second = Encoding.UTF8.GetBytes("{\"version\":\"2.0\",\"rawPath\":\"/next\",\"headers\":{\"x-second\":\"2\"}," + Context + "}");
        EventMapper.Map(second, options, request);

        var fresh = EventMapper.Map(second, options);
        Assert.Same(headers, request.Headers);
        Assert.Equal(Names(fresh), Names(request));
        Assert.Equal(fresh.Headers, request.Headers);
        Assert.Equal((fresh.Source, fresh.Method, fresh.Path, fresh.QueryString, fresh.RawTarget, fresh.Scheme, fresh.LocalPort), (request.Source, request.Method, request.Path, request.QueryString, request.RawTarget, request.Scheme, request.LocalPort));
        Assert.True(request.Body.IsEmpty);

        request.Release();
        Assert.Empty(headers);
        Assert.Equal("", request.Path);
    }

    [Fact]
    public void Extra_fields_of_any_type_at_any_level_change_nothing()
    {
        var plain = GoldenEvents.Map("rest_api_stage_cognito_mtls.json", new LambdaStreamingOptions { MapIdentityToUser = true });
        var json = JsonNode.Parse(GoldenEvents.Read("rest_api_stage_cognito_mtls.json"))!;
        AddExtraFields(json);

        var withExtras = GoldenEvents.MapJson(json.ToJsonString(), new LambdaStreamingOptions { MapIdentityToUser = true });

        Assert.Equal(plain.Path, withExtras.Path);
        Assert.Equal(plain.PathBase, withExtras.PathBase);
        Assert.Equal(plain.QueryString, withExtras.QueryString);
        Assert.Equal(plain.Headers.Count, withExtras.Headers.Count);
        Assert.Equal(plain.BodyText(), withExtras.BodyText());
        Assert.Equal(plain.RemoteIpAddress, withExtras.RemoteIpAddress);
        Assert.Equal(plain.ClientCertificate?.Thumbprint, withExtras.ClientCertificate?.Thumbprint);
        Assert.Equal(plain.User!.Identity!.Name, withExtras.User!.Identity!.Name);
        Assert.Contains(withExtras.User.Claims, c => c.Type == "x3");
    }

    /// <summary>
    /// Puts fields of every JSON type first in every object of <paramref name="node"/> (also in arrays), except in the
    /// header and query maps, whose entries must be strings.
    /// </summary>
    private static void AddExtraFields(JsonNode node)
    {
        if (node.Parent is JsonObject && node.GetPropertyName() is "headers" or "multiValueHeaders" or "queryStringParameters" or "multiValueQueryStringParameters")
        {
            return;
        }

        IEnumerable<JsonNode?> children = node switch
        {
            JsonObject o => o.Select(p => p.Value),
            JsonArray a => a,
            _ => [],
        };
        foreach (var child in children.ToList())
        {
            if (child is not null)
            {
                AddExtraFields(child);
            }
        }

        if (node is JsonObject obj)
        {
            var extra = JsonNode.Parse("""
                {"x1":null,"x2":1.5e3,"x3":[{"a":[[],{}]},"s",true],"x4":{"deep":{"er":{"est":[1,[2,[3]]]}}},"x5":false,"x6":"\u00e9"}
                """)!.AsObject();
            foreach (var (name, value) in extra.ToList())
            {
                extra.Remove(name);
                obj.Insert(0, name, value);
            }
        }
    }

    [Fact]
    public void A_huge_event_maps_every_header_and_the_whole_body()
    {
        var body = new byte[4 * 1024 * 1024];
        new Random(7).NextBytes(body);
        var headers = string.Join(",", Enumerable.Range(0, 2000).Select(i => $"\"x-h{i}\":\"{new string('v', 100)}{i}\""));
        var json = "{\"version\":\"2.0\",\"rawPath\":\"/big\",\"headers\":{" + headers + "},\"body\":\"" + Convert.ToBase64String(body)
            + "\",\"isBase64Encoded\":true," + Context + "}";

        var request = GoldenEvents.MapJson(json);

        Assert.Equal(2000, request.Headers.Count);
        Assert.Equal(new string('v', 100) + "1999", request.Headers["x-h1999"].ToString());
        Assert.True(body.AsSpan().SequenceEqual(request.Body.Span));
    }

    [Fact]
    public void A_text_body_points_into_the_event_bytes_and_nothing_changes_them()
    {
        var eventBytes = Encoding.UTF8.GetBytes("{\"version\":\"2.0\",\"rawPath\":\"/\",\"body\":\"plain text\"," + Context + "}");
        var copy = eventBytes.ToArray();

        var request = EventMapper.Map(eventBytes, new LambdaStreamingOptions());

        Assert.True(MemoryMarshal.TryGetArray(request.Body, out var segment));
        Assert.Same(eventBytes, segment.Array);
        Assert.Equal("plain text", request.BodyText());
        Assert.Equal(copy, eventBytes);
    }

    [Theory]
    [InlineData("QUJD", "ABC")]
    [InlineData("QU\\u004aD", "ABC")]
    [InlineData("P\\/8=", "?\u00FF")]
    public void A_base64_body_is_decoded_into_its_own_array_even_when_escaped(string base64, string expected)
    {
        var eventBytes = Encoding.UTF8.GetBytes("{\"version\":\"2.0\",\"body\":\"" + base64 + "\",\"isBase64Encoded\":true," + Context + "}");
        var copy = eventBytes.ToArray();

        var request = EventMapper.Map(eventBytes, new LambdaStreamingOptions());

        Assert.Equal(Encoding.Latin1.GetBytes(expected), request.Body.ToArray());
        Assert.True(MemoryMarshal.TryGetArray(request.Body, out var segment));
        Assert.NotSame(eventBytes, segment.Array);
        Assert.Equal(copy, eventBytes);
    }

    [Fact]
    public void Header_values_seen_before_are_reused_only_when_equal()
    {
        var first = MapV2("""
            "headers":{"accept":"text/event-stream","authorization":"Bearer a"}
            """);
        var same = MapV2("""
            "headers":{"accept":"text/event-stream","authorization":"Bearer a"}
            """);
        var other = MapV2("""
            "headers":{"accept":"text/event-streaM"}
            """);

        Assert.Same(first.Headers["Accept"].ToString(), same.Headers["Accept"].ToString());
        Assert.Equal("text/event-streaM", other.Headers["Accept"].ToString());

        // Credentials are never kept.
        Assert.NotSame(first.Headers["Authorization"].ToString(), same.Headers["Authorization"].ToString());
    }

    [Fact]
    public void Concurrent_mapping_never_mixes_header_values()
    {
        var failures = 0;
        Parallel.For(0, 4000, i =>
        {
            var agent = "agent-" + (i % 7);
            var request = MapV2("\"headers\":{\"user-agent\":\"" + agent + "\",\"accept\":\"" + agent + "\"}");
            if (request.Headers["User-Agent"].ToString() != agent || request.Headers["Accept"].ToString() != agent)
            {
                Interlocked.Increment(ref failures);
            }
        });

        Assert.Equal(0, failures);
    }

    [Fact]
    public void A_rest_query_parameter_repeated_in_the_event_keeps_its_first_place_and_last_value()
    {
        var request = GoldenEvents.MapJson("""
            {"httpMethod":"GET","path":"/","requestContext":{},"queryStringParameters":{"a":"1","b":null,"a":"3","c d":"x&y"}}
            """);

        Assert.Equal("?a=3&b&c%20d=x%26y", request.QueryString);
    }

    [Theory]
    [InlineData("""{"version":"2.0","headers":{"a.b":1},"requestContext":{"http":{"method":"GET"}}}""", "$.headers['a.b']", "a string")]
    [InlineData("""{"version":"2.0","headers":{"a'b":[]},"requestContext":{"http":{"method":"GET"}}}""", "$.headers['a'b']", "a string")]
    [InlineData("""{"version":"2.0","cookies":["a",2],"requestContext":{"http":{"method":"GET"}}}""", "$.cookies[1]", "a string")]
    [InlineData("""{"httpMethod":"GET","multiValueHeaders":{"ab":"x"},"requestContext":{}}""", "$.multiValueHeaders.ab", "an array")]
    [InlineData("""{"httpMethod":"GET","multiValueHeaders":{"a b":["x",{}]},"requestContext":{}}""", "$.multiValueHeaders['a b'][1]", "a string")]
    [InlineData("""{"version":"2.0","requestContext":{"http":{"method":"GET"},"authorizer":[]}}""", "$.requestContext.authorizer", "an object")]
    [InlineData("""{"version":"2.0","requestContext":{"http":{"method":"GET"},"authentication":{"clientCert":5}}}""", "$.requestContext.authentication.clientCert", "an object")]
    [InlineData("""{"version":"2.0","isBase64Encoded":null,"requestContext":{"http":{"method":"GET"}}}""", "$.isBase64Encoded", "true or false")]
    public void Wrong_types_in_entries_and_elements_name_their_path(string json, string path, string expected)
    {
        var ex = Assert.Throws<InvalidEventException>(() => GoldenEvents.MapJson(json));

        Assert.Equal(LambdaErrorTypes.InvalidEventField, ex.ErrorType);
        Assert.Equal($"The event field {path} has the wrong type: expected {expected}.", ex.Message);
    }

    [Fact]
    public void Broken_json_after_a_wrong_type_is_reported_as_invalid_json()
    {
        var ex = Assert.Throws<InvalidEventException>(() => GoldenEvents.MapJson("""{"version":"2.0","rawPath":42,"requestContext":"""));

        Assert.Equal(LambdaErrorTypes.InvalidEventJson, ex.ErrorType);
    }

    [Theory]
    [InlineData(new byte[] { 0xC3, 0x28 })]
    [InlineData(new byte[] { (byte)'\\', (byte)'u', (byte)'d', (byte)'8', (byte)'0', (byte)'0' })]
    public void Text_that_is_not_utf8_is_an_invalid_field_with_its_path(byte[] badText)
    {
        byte[] json = [.. "{\"version\":\"2.0\",\"headers\":{\"x-a\":\""u8, .. badText, .. "\"},"u8, .. Encoding.UTF8.GetBytes(Context), .. "}"u8];

        var ex = Assert.Throws<InvalidEventException>(() => EventMapper.Map(json, new LambdaStreamingOptions()));

        Assert.Equal(LambdaErrorTypes.InvalidEventField, ex.ErrorType);
        Assert.Equal("The event field $.headers.x-a is not valid UTF-8 text.", ex.Message);
    }

    [Fact]
    public void Authorizer_is_read_only_when_asked_and_its_last_repeated_entry_counts()
    {
        const string Json = """
            {"version":"2.0","requestContext":{"http":{"method":"GET"},"domainName":"x.lambda-url.us-east-1.on.aws",
             "authorizer":{"iam":{"userArn":"first"},"iam":{"userArn":"arn:aws:iam::1:user/second","n":7}}}}
            """;

        var user = GoldenEvents.MapJson(Json, new LambdaStreamingOptions { MapIdentityToUser = true }).User!;

        Assert.Null(GoldenEvents.MapJson(Json).User);
        Assert.Equal(IdentityMapper.FunctionUrlIam, user.Identity!.AuthenticationType);
        Assert.Equal("arn:aws:iam::1:user/second", user.Identity.Name);
        Assert.Equal("7", user.FindFirstValue("n"));
    }
}
