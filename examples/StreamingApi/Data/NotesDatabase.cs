using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace StreamingApi.Data;

/// <summary>
/// The example's database wiring, in one place: PostgreSQL when <c>ConnectionStrings:Postgres</c> is set (environment
/// variable <c>ConnectionStrings__Postgres</c>), otherwise an embedded SQLite file that needs no setup
/// (<c>ConnectionStrings:Sqlite</c>, default <c>streamingapi.db</c> in the temp folder: inside Lambda only /tmp is writable).
/// </summary>
public static class NotesDatabase
{
    /// <summary>The longest note accepted.</summary>
    public const int MaxNoteLength = 500;

    /// <summary>
    /// Registers the pooled <see cref="AppDbContext"/> and, on PostgreSQL, an <see cref="NpgsqlDataSource"/> for code that
    /// queries without EF Core (Dapper, ADO.NET), each with its Lambda lifecycle line.
    /// </summary>
    public static WebApplicationBuilder AddNotesDatabase(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var postgres = builder.Configuration.GetConnectionString("Postgres");
        if (!string.IsNullOrWhiteSpace(postgres))
        {
            builder.Services.AddDbContextPool<AppDbContext>(o => o.UseNpgsql(postgres));

            // Dapper or plain ADO.NET on a data source (its own pool here, to show its own line): warm connections during
            // init; after a thaw, idle connections checked and dead ones replaced before the request runs.
            builder.Services.AddNpgsqlDataSource(postgres);
            builder.Services.AddLambdaNpgsqlDataSourceLifecycle();
        }
        else
        {
            var sqlite = builder.Configuration.GetConnectionString("Sqlite")
                ?? $"Data Source={Path.Combine(Path.GetTempPath(), "streamingapi.db")}";
            builder.Services.AddDbContextPool<AppDbContext>(o => o.UseSqlite(sqlite));
        }

        // Warm connections during init; after a thaw, idle pooled connections checked on the first open and dead ones
        // replaced (LambdaStreamingHosting.EntityFrameworkCore).
        builder.Services.AddLambdaDbContextLifecycle<AppDbContext>();
        return builder;
    }

    /// <summary>Creates the schema when the database has none (good enough for an example; use migrations in an app).</summary>
    public static async Task CreateNotesSchemaAsync(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        await using var scope = app.Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<AppDbContext>().Database.EnsureCreatedAsync();
    }

    /// <summary>
    /// Maps <c>GET /notes</c> (streamed), <c>POST /notes</c>, <c>GET /db/backend-pid</c> (through EF Core) and
    /// <c>GET /db/direct/backend-pid</c> (through the <see cref="NpgsqlDataSource"/>, no EF Core).
    /// </summary>
    public static IEndpointRouteBuilder MapNotes(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/notes", (AppDbContext db) => db.Notes.AsNoTracking().OrderBy(n => n.Id).AsAsyncEnumerable());

        endpoints.MapPost("/notes", async Task<Results<Created<Note>, ProblemHttpResult>> (NewNote body, AppDbContext db, CancellationToken cancellationToken) =>
        {
            if (string.IsNullOrWhiteSpace(body.Text) || body.Text.Length > MaxNoteLength)
            {
                return TypedResults.Problem($"text must be 1 to {MaxNoteLength} characters.", statusCode: StatusCodes.Status400BadRequest);
            }

            var note = new Note { Text = body.Text, CreatedAt = DateTimeOffset.UtcNow };
            db.Notes.Add(note);
            await db.SaveChangesAsync(cancellationToken);
            return TypedResults.Created($"/notes/{note.Id}", note);
        });

        endpoints.MapGet("/db/backend-pid", async Task<Results<Ok<BackendPid>, ProblemHttpResult>> (AppDbContext db, CancellationToken cancellationToken) =>
        {
            if (!db.Database.IsNpgsql())
            {
                return TypedResults.Problem(
                    "This endpoint needs PostgreSQL: set ConnectionStrings__Postgres. The app is using its embedded SQLite database.",
                    statusCode: StatusCodes.Status404NotFound);
            }

            var pid = await db.Database.SqlQuery<int>($"SELECT pg_backend_pid() AS \"Value\"").SingleAsync(cancellationToken);
            return TypedResults.Ok(new BackendPid(pid));
        });

        endpoints.MapGet("/db/direct/backend-pid", async Task<Results<Ok<BackendPid>, ProblemHttpResult>> (IServiceProvider services, CancellationToken cancellationToken) =>
        {
            if (services.GetService<NpgsqlDataSource>() is not { } dataSource)
            {
                return TypedResults.Problem(
                    "This endpoint needs PostgreSQL: set ConnectionStrings__Postgres. The app is using its embedded SQLite database.",
                    statusCode: StatusCodes.Status404NotFound);
            }

            await using var command = dataSource.CreateCommand("SELECT pg_backend_pid()");
            var pid = (int)(await command.ExecuteScalarAsync(cancellationToken))!;
            return TypedResults.Ok(new BackendPid(pid));
        });

        return endpoints;
    }
}
