using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace LambdaStreamingHosting.Templates.Tests;

/// <summary>
/// A CloudFormation/SAM template read with YamlDotNet, with the intrinsic functions the deploy templates use
/// (<c>!Ref</c>, <c>!FindInMap</c>, <c>!If</c>, <c>!Equals</c>, <c>!Not</c>, <c>!GetAtt</c>, short or long form)
/// evaluated for a given set of parameter values, the way CloudFormation would.
/// </summary>
internal sealed class CloudFormationTemplate
{
    /// <summary>What <c>!Ref AWS::NoValue</c> evaluates to: the property is left out.</summary>
    public static readonly object NoValue = new();

    private readonly YamlMappingNode _root;

    private CloudFormationTemplate(YamlMappingNode root) => _root = root;

    public static CloudFormationTemplate Load(string path)
    {
        var yaml = new YamlStream();
        using (var reader = new StreamReader(path))
        {
            yaml.Load(reader);
        }

        return new CloudFormationTemplate((YamlMappingNode)yaml.Documents[0].RootNode);
    }

    public YamlMappingNode Section(string name) =>
        _root.Children.TryGetValue(new YamlScalarNode(name), out var node) ? (YamlMappingNode)node : new YamlMappingNode();

    public bool HasSection(string name) => _root.Children.ContainsKey(new YamlScalarNode(name));

    /// <summary>The parameter's allowed values.</summary>
    public IReadOnlyList<string> AllowedValues(string parameter) =>
        ((YamlSequenceNode)Section("Parameters")[parameter]["AllowedValues"]).Select(n => ((YamlScalarNode)n).Value!).ToList();

    public string? Default(string parameter) =>
        ((YamlMappingNode)Section("Parameters")[parameter]).Children.TryGetValue(new YamlScalarNode("Default"), out var value) ? ((YamlScalarNode)value).Value : null;

    /// <summary>The resources of the given type, by logical id.</summary>
    public IReadOnlyDictionary<string, YamlMappingNode> Resources(string type) =>
        Section("Resources").Children
            .Where(r => ((YamlScalarNode)r.Value["Type"]).Value == type)
            .ToDictionary(r => ((YamlScalarNode)r.Key).Value!, r => (YamlMappingNode)r.Value);

    /// <summary>Evaluates <paramref name="node"/> to strings, booleans, lists and dictionaries.</summary>
    public object? Evaluate(YamlNode node, IReadOnlyDictionary<string, string> parameters)
    {
        var tag = node.Tag.IsEmpty ? null : node.Tag.Value;
        switch (node)
        {
            case YamlScalarNode scalar when tag == "!Ref":
                return Ref(scalar.Value!, parameters);
            case YamlScalarNode scalar when tag == "!GetAtt":
                return "GetAtt:" + scalar.Value;
            case YamlScalarNode scalar when tag is null:
                return scalar.Value;
            case YamlSequenceNode sequence when tag is not null:
                return Function(tag.TrimStart('!'), sequence, parameters);
            case YamlSequenceNode sequence:
                return sequence.Select(item => Evaluate(item, parameters)).Where(v => v != NoValue).ToList();
            case YamlMappingNode mapping when mapping.Children.Count == 1 && ((YamlScalarNode)mapping.Children.First().Key).Value is "Ref" or "Fn::FindInMap" or "Fn::If" or "Fn::Equals" or "Fn::Not" or "Fn::GetAtt":
                var (functionKey, functionArguments) = mapping.Children.First();
                var name = ((YamlScalarNode)functionKey).Value!;
                return name == "Ref"
                    ? Ref(((YamlScalarNode)functionArguments).Value!, parameters)
                    : Function(name["Fn::".Length..], (YamlSequenceNode)functionArguments, parameters);
            case YamlMappingNode mapping:
                var result = new Dictionary<string, object?>(StringComparer.Ordinal);
                foreach (var (key, value) in mapping.Children)
                {
                    var evaluated = Evaluate(value, parameters);
                    if (evaluated != NoValue)
                    {
                        result[((YamlScalarNode)key).Value!] = evaluated;
                    }
                }

                return result;
            default:
                throw new NotSupportedException($"Unsupported YAML node {node} (tag {tag}) at {node.Start}.");
        }
    }

    /// <summary>Evaluates the named condition of the <c>Conditions</c> section.</summary>
    public bool Condition(string name, IReadOnlyDictionary<string, string> parameters) =>
        (bool)Evaluate(Section("Conditions")[name], parameters)!;

    private object? Ref(string name, IReadOnlyDictionary<string, string> parameters)
    {
        if (name == "AWS::NoValue")
        {
            return NoValue;
        }

        if (parameters.TryGetValue(name, out var value))
        {
            return value;
        }

        if (Section("Parameters").Children.ContainsKey(new YamlScalarNode(name)))
        {
            return Default(name) ?? throw new InvalidOperationException($"Parameter {name} has no default and no value was given.");
        }

        return "Ref:" + name; // a resource or pseudo parameter: resolved only at deploy time
    }

    private object? Function(string name, YamlSequenceNode arguments, IReadOnlyDictionary<string, string> parameters)
    {
        var args = arguments.Children;
        switch (name)
        {
            case "FindInMap":
                var map = (YamlMappingNode)Section("Mappings")[Text(args[0], parameters)];
                var entry = (YamlMappingNode)map[Text(args[1], parameters)];
                return Evaluate(entry[Text(args[2], parameters)], parameters);
            case "If":
                return Condition(Text(args[0], parameters), parameters) ? Evaluate(args[1], parameters) : Evaluate(args[2], parameters);
            case "Equals":
                return string.Equals(Convert.ToString(Evaluate(args[0], parameters), CultureInfo.InvariantCulture), Convert.ToString(Evaluate(args[1], parameters), CultureInfo.InvariantCulture), StringComparison.Ordinal);
            case "Not":
                return !(bool)Evaluate(args[0], parameters)!;
            case "GetAtt":
                return "GetAtt:" + string.Join('.', args.Select(a => Text(a, parameters)));
            default:
                throw new NotSupportedException($"Intrinsic function {name} is not supported by this evaluator (at {arguments.Start}).");
        }
    }

    private string Text(YamlNode node, IReadOnlyDictionary<string, string> parameters) =>
        Evaluate(node, parameters) as string ?? throw new InvalidOperationException($"Expected text at {node.Start}.");
}
