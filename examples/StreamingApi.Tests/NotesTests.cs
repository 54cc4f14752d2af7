using System.Net;
using System.Net.Http.Json;
using StreamingApi.Data;

namespace StreamingApi.Tests;

public sealed class NotesTests(StreamingApiFactory factory) : IClassFixture<StreamingApiFactory>
{
    [Fact]
    public async Task Notes_are_stored_in_the_embedded_database_and_streamed_back()
    {
        using var client = factory.CreateClient();
        foreach (var text in new[] { "first", "second" })
        {
            using var created = await client.PostAsJsonAsync("/notes", new NewNote(text));
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            var note = await created.Content.ReadFromJsonAsync<Note>();
            Assert.Equal(text, note!.Text);
            Assert.Equal($"/notes/{note.Id}", created.Headers.Location?.OriginalString);
        }

        var notes = await client.GetFromJsonAsync<List<Note>>("/notes");
        Assert.Equal(["first", "second"], notes!.Select(n => n.Text));
    }

    [Fact]
    public async Task An_empty_note_is_a_bad_request_and_stores_nothing()
    {
        using var client = factory.CreateClient();
        var before = (await client.GetFromJsonAsync<List<Note>>("/notes"))!.Count;
        using var response = await client.PostAsJsonAsync("/notes", new NewNote(" "));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(before, (await client.GetFromJsonAsync<List<Note>>("/notes"))!.Count);
    }

    [Fact]
    public async Task The_backend_pid_endpoint_explains_that_it_needs_postgres()
    {
        using var client = factory.CreateClient();
        using var response = await client.GetAsync("/db/backend-pid");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("ConnectionStrings__Postgres", await response.Content.ReadAsStringAsync());
    }
}
