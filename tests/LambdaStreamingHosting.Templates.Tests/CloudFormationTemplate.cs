using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace LambdaStreamingHosting.Templates.Tests;

/// <summary>
/// A CloudFormation/SAM template read with YamlDotNet, with the intrinsic functions the deploy templates use
/// (<c>!Ref</c>, <c>!FindInMap</c>, <c>!If</c>, <c>!Equals</c>, <c>!Not</c>, <c>!And</c>, <c>!Or</c>, <c>!Condition</c>,
/// <c>!GetAtt</c>, <c>!Sub</c>, <c>!Join</c>, <c>!Select</c>, <c>!Split</c>, and <c>!Contains</c> in rules; short or
/// long form) evaluated for a given set of parameter values, the way CloudFormation would. What only the deployment
/// knows stays a marker: <c>Ref:Name</c> for a resource or pseudo parameter, <c>GetAtt:Name.Attribute</c>.
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
            case YamlScalarNode scalar when tag == "!Condition":
                return Condition(scalar.Value!, parameters);
            case YamlScalarNode scalar when tag == "!Sub":
                return Substitute(scalar.Value!, new Dictionary<string, object?>(StringComparer.Ordinal), parameters);
            case YamlScalarNode scalar when tag is null:
                return scalar.Value;
            case YamlSequenceNode sequence when tag is not null:
                return Function(tag.TrimStart('!'), sequence, parameters);
            case YamlSequenceNode sequence:
                return sequence.Select(item => Evaluate(item, parameters)).Where(v => v != NoValue).ToList();
            case YamlMappingNode mapping when mapping.Children.Count == 1 && ((YamlScalarNode)mapping.Children.First().Key).Value is { } key && (key == "Ref" || key == "Condition" || key.StartsWith("Fn::", StringComparison.Ordinal)):
                var (functionKey, functionArguments) = mapping.Children.First();
                var name = ((YamlScalarNode)functionKey).Value!;
                return name switch
                {
                    "Ref" => Ref(((YamlScalarNode)functionArguments).Value!, parameters),
                    "Condition" => Condition(((YamlScalarNode)functionArguments).Value!, parameters),
                    "Fn::Sub" when functionArguments is YamlScalarNode text => Substitute(text.Value!, new Dictionary<string, object?>(StringComparer.Ordinal), parameters),
                    _ => Function(name["Fn::".Length..], (YamlSequenceNode)functionArguments, parameters),
                };
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

    /// <summary>
    /// The <c>AssertDescription</c> of every rule assertion the parameters break (a rule applies when it has no
    /// <c>RuleCondition</c> or its condition holds), as CloudFormation checks them before it creates anything.
    /// </summary>
    public IReadOnlyList<string> BrokenRules(IReadOnlyDictionary<string, string> parameters)
    {
        var broken = new List<string>();
        foreach (var (name, node) in Section("Rules").Children)
        {
            var rule = (YamlMappingNode)node;
            if (rule.Children.TryGetValue(new YamlScalarNode("RuleCondition"), out var condition) && !(bool)Evaluate(condition, parameters)!)
            {
                continue;
            }

            foreach (var assertion in (YamlSequenceNode)rule["Assertions"])
            {
                if (!(bool)Evaluate(assertion["Assert"], parameters)!)
                {
                    broken.Add($"{((YamlScalarNode)name).Value}: {((YamlScalarNode)assertion["AssertDescription"]).Value}");
                }
            }
        }

        return broken;
    }

    /// <summary>
    /// The resources CloudFormation would create for these parameters (those without a <c>Condition</c>, or whose
    /// condition holds), by logical id: their type and evaluated properties.
    /// </summary>
    public IReadOnlyDictionary<string, DeployedResource> Deployed(IReadOnlyDictionary<string, string> parameters)
    {
        var resources = new Dictionary<string, DeployedResource>(StringComparer.Ordinal);
        foreach (var (key, node) in Section("Resources").Children)
        {
            var resource = (YamlMappingNode)node;
            if (resource.Children.TryGetValue(new YamlScalarNode("Condition"), out var condition) && !Condition(((YamlScalarNode)condition).Value!, parameters))
            {
                continue;
            }

            var properties = resource.Children.TryGetValue(new YamlScalarNode("Properties"), out var props)
                ? (Dictionary<string, object?>)Evaluate(props, parameters)!
                : new Dictionary<string, object?>(StringComparer.Ordinal);
            resources[((YamlScalarNode)key).Value!] = new DeployedResource(((YamlScalarNode)resource["Type"]).Value!, properties);
        }

        return resources;
    }

    private object? Ref(string name, IReadOnlyDictionary<string, string> parameters)
    {
        if (name == "AWS::NoValue")
        {
            return NoValue;
        }

        if (Section("Parameters").Children.ContainsKey(new YamlScalarNode(name)))
        {
            var value = parameters.TryGetValue(name, out var given)
                ? given
                : Default(name) ?? throw new InvalidOperationException($"Parameter {name} has no default and no value was given.");
            var type = ((YamlScalarNode)Section("Parameters")[name]["Type"]).Value;
            return type == "CommaDelimitedList" ? value.Split(',').Select(v => (object?)v.Trim()).ToList() : value;
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
            case "And":
                return args.All(a => (bool)Evaluate(a, parameters)!);
            case "Or":
                return args.Any(a => (bool)Evaluate(a, parameters)!);
            case "Contains":
                return ((List<object?>)Evaluate(args[0], parameters)!).Contains(Text(args[1], parameters));
            case "Join":
                return string.Join(Text(args[0], parameters), ((List<object?>)Evaluate(args[1], parameters)!).Select(v => (string)v!));
            case "Split":
                return Text(args[1], parameters).Split(Text(args[0], parameters)).Select(v => (object?)v).ToList();
            case "Select":
                var list = (List<object?>)Evaluate(args[1], parameters)!;
                var index = int.Parse(Text(args[0], parameters), CultureInfo.InvariantCulture);
                return index < list.Count ? list[index] : "Select:" + index + ":" + string.Join(",", list);
            case "Sub":
                var variables = new Dictionary<string, object?>(StringComparer.Ordinal);
                foreach (var (variable, value) in (YamlMappingNode)args[1])
                {
                    variables[((YamlScalarNode)variable).Value!] = Evaluate(value, parameters);
                }

                return Substitute(((YamlScalarNode)args[0]).Value!, variables, parameters);
            default:
                throw new NotSupportedException($"Intrinsic function {name} is not supported by this evaluator (at {arguments.Start}).");
        }
    }

    /// <summary><c>Fn::Sub</c>: <c>${Name}</c> from the variables or parameters, else a marker; <c>${!Text}</c> is literal.</summary>
    private string Substitute(string text, Dictionary<string, object?> variables, IReadOnlyDictionary<string, string> parameters) =>
        System.Text.RegularExpressions.Regex.Replace(text, @"\$\{(!?)([^}]*)\}", match =>
        {
            var name = match.Groups[2].Value;
            if (match.Groups[1].Value == "!")
            {
                return "${" + name + "}";
            }

            if (variables.TryGetValue(name, out var value))
            {
                return value as string ?? throw new InvalidOperationException($"Fn::Sub variable {name} is not text.");
            }

            var dot = name.IndexOf('.', StringComparison.Ordinal);
            return dot > 0 && !name.StartsWith("AWS::", StringComparison.Ordinal) && Section("Resources").Children.ContainsKey(new YamlScalarNode(name[..dot]))
                && name[(dot + 1)..] is not ("Alias" or "Version")
                ? "GetAtt:" + name
                : Ref(name, parameters) as string ?? throw new InvalidOperationException($"Fn::Sub reference {name} is not text.");
        });

    private string Text(YamlNode node, IReadOnlyDictionary<string, string> parameters) =>
        Evaluate(node, parameters) as string ?? throw new InvalidOperationException($"Expected text at {node.Start}.");
}

/// <summary>A resource as CloudFormation would create it: its type and its evaluated properties.</summary>
internal sealed record DeployedResource(string Type, Dictionary<string, object?> Properties);
