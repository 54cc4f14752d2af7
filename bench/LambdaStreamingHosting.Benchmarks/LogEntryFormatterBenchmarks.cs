using System.Buffers;
using System.Text;
using BenchmarkDotNet.Attributes;
using LambdaStreamingHosting.Logging;
using LambdaStreamingHosting.RuntimeApi;
using Microsoft.Extensions.Logging;

namespace LambdaStreamingHosting.Benchmarks;

/// <summary>
/// Formatting one log entry into its line, as the Lambda logger does on the caller's thread: an entry of an invocation
/// (request and trace id) with a formatted message and two template properties, into a reused buffer.
/// </summary>
public class LogEntryFormatterBenchmarks
{
    private readonly ArrayBufferWriter<byte> _line = new(1024);
    private Invocation _invocation = null!;
    private InvocationLogContext _scope = null!;
    private LogEntry _entry;

    [GlobalSetup]
    public void Setup()
    {
        _invocation = new Invocation();
        _invocation.Reset();
        _invocation.AddHeader("Lambda-Runtime-Aws-Request-Id"u8, "8476a536-e9f4-11e8-9739-2dfe598c3fcd"u8);
        _invocation.AddHeader("Lambda-Runtime-Trace-Id"u8, "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1"u8);
        _scope = InvocationLogContext.Of(_invocation);
        var properties = new KeyValuePair<string, object?>[]
        {
            new("OrderId", 42),
            new("Customer", "Ada"),
            new("{OriginalFormat}", "Order {OrderId} shipped to {Customer}"),
        };
        _entry = new LogEntry(DateTimeOffset.UtcNow, LogLevel.Information, new LogCategory("MyApp.Orders"), "Order 42 shipped to Ada", properties, null, _scope);
        _ = _scope.TraceId;
        if (Encoding.UTF8.GetString(Format(LambdaLogFormat.Json)).Length < 100)
        {
            throw new InvalidOperationException("The entry was not formatted.");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _scope.Dispose();
        _invocation.Dispose();
    }

    [Benchmark(Description = "Log entry: format as Lambda JSON")]
    public int Json() => Format(LambdaLogFormat.Json).Length;

    [Benchmark(Description = "Log entry: format as Lambda text")]
    public int Text() => Format(LambdaLogFormat.Text).Length;

    private ReadOnlySpan<byte> Format(LambdaLogFormat format)
    {
        _line.ResetWrittenCount();
        LogEntryFormatter.Write(_line, format, _entry);
        return _line.WrittenSpan;
    }
}
