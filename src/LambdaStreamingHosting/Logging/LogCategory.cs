using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace LambdaStreamingHosting.Logging;

/// <summary>A logger's category, encoded once for both formats.</summary>
internal sealed class LogCategory
{
    public LogCategory(string name)
    {
        Name = name;
        Json = JsonEncodedText.Encode(name, JavaScriptEncoder.UnsafeRelaxedJsonEscaping);
        Utf8 = Encoding.UTF8.GetBytes(name.ReplaceLineEndings(" "));
    }

    public string Name { get; }

    /// <summary>The name escaped for a JSON string.</summary>
    public JsonEncodedText Json { get; }

    /// <summary>The name as UTF-8, line breaks replaced, for the text format.</summary>
    public byte[] Utf8 { get; }
}
