using LambdaStreamingHosting.Tool;

return await RunCommand.MainAsync(args, Console.Out, Console.Error).ConfigureAwait(false);
