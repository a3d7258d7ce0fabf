module tb;
  reg [7:0] a, b;
  reg cin;
  wire [7:0] sum_ref, sum_top;
  wire cout_ref, cout_top;
  integer seed = 202, i, samples = 0, mismatches = 0;

  RefModule ref_i (.a(a), .b(b), .cin(cin), .sum(sum_ref), .cout(cout_ref));
  TopModule top_i (.a(a), .b(b), .cin(cin), .sum(sum_top), .cout(cout_top));

  task check;
    begin
      #1;
      samples = samples + 1;
      if ({cout_ref, sum_ref} !== {cout_top, sum_top}) mismatches = mismatches + 1;
    end
  endtask

  initial begin
    for (i = 0; i < 8; i = i + 1) begin
      {a, b, cin} = {i[2] ? 8'hff : 8'h00, i[1] ? 8'hff : 8'h00, i[0]};
      check;
    end
    a = 8'h80; b = 8'h80; cin = 0; check;
    a = 8'h7f; b = 8'h80; cin = 1; check;
    a = 8'h0f; b = 8'h01; cin = 0; check;
    for (i = 0; i < 300; i = i + 1) begin
      a = $random(seed);
      b = $random(seed);
      cin = $random(seed);
      check;
    end
    $display("Mismatches: %0d in %0d samples", mismatches, samples);
    $finish;
  end

  initial begin
    #100000;
    $display("TIMEOUT");
    $finish;
  end
endmodule
