using Microsoft.EntityFrameworkCore;

namespace StreamingApi.Data;

/// <summary>The example's database: PostgreSQL or SQLite, chosen at start-up (see <see cref="NotesDatabase"/>).</summary>
public sealed class AppDbContext(DbContextOptions<AppDbContext> options) : DbContext(options)
{
    /// <summary>The notes.</summary>
    public DbSet<Note> Notes => Set<Note>();

    /// <inheritdoc />
    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        ArgumentNullException.ThrowIfNull(modelBuilder);
        var note = modelBuilder.Entity<Note>();
        note.Property(n => n.Text).HasMaxLength(NotesDatabase.MaxNoteLength);
        if (Database.IsSqlite())
        {
            // SQLite cannot order or compare DateTimeOffset; store it as Unix milliseconds there.
            note.Property(n => n.CreatedAt).HasConversion(v => v.ToUnixTimeMilliseconds(), v => DateTimeOffset.FromUnixTimeMilliseconds(v));
        }
    }
}
