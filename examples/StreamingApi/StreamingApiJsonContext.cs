using System.Text.Json;
using System.Text.Json.Serialization;
using StreamingApi.Streaming;
#if !NATIVE_AOT
using StreamingApi.Data;
#endif

namespace StreamingApi;

/// <summary>Source-generated JSON for every type the endpoints read or write, so the app also runs as Native AOT.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(FeedItem))]
[JsonSerializable(typeof(IAsyncEnumerable<FeedItem>))]
[JsonSerializable(typeof(VisitReport))]
#if !NATIVE_AOT
[JsonSerializable(typeof(Note))]
[JsonSerializable(typeof(NewNote))]
[JsonSerializable(typeof(IAsyncEnumerable<Note>))]
[JsonSerializable(typeof(BackendPid))]
#endif
internal sealed partial class StreamingApiJsonContext : JsonSerializerContext;
