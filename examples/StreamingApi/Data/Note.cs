namespace StreamingApi.Data;

/// <summary>A note stored through EF Core.</summary>
public sealed class Note
{
    /// <summary>The key.</summary>
    public int Id { get; set; }

    /// <summary>The note's text.</summary>
    public required string Text { get; set; }

    /// <summary>When the note was created.</summary>
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>The body of <c>POST /notes</c>.</summary>
/// <param name="Text">The note's text, 1 to 500 characters.</param>
public sealed record NewNote(string? Text);

/// <summary>The answer of <c>GET /db/backend-pid</c>.</summary>
/// <param name="Pid">The PostgreSQL server process serving the pooled connection.</param>
public sealed record BackendPid(int Pid);
